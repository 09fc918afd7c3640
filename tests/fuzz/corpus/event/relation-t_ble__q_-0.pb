	 À£ðBroundtrip_Ã¼Jwe"irdR
tÃ¥ble "q"X»€x‚
ktext (‚
vinteger