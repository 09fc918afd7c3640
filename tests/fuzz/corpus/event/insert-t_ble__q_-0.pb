	 À£ðBroundtrip_Ã¼Jwe"irdR
tÃ¥ble "q"X»€x‚
ktext (‚
vinteger¨¥ð À£ð0é8ÑŠ§ª«½˜Broundtrip_Ã¼Jwe"irdR
tÃ¥ble "q"X»€jZk\"
j 