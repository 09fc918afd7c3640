	 èŞğBroundtrip_Ã¼JpublicRparentXÂ€x‚
idinteger (