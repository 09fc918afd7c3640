	 À×íBroundtrip_Ã¼JpublicRfull_tX¡€x‚
idinteger (‚
vtext‚
bigtext