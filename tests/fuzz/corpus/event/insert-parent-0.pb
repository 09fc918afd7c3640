	 èŞğBroundtrip_Ã¼JpublicRparentXÂ€x‚
idinteger (àãğ èŞğ0í8ıï§ª«½˜Broundtrip_Ã¼JpublicRparentXÂ€j 