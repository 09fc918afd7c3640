	 À×íBroundtrip_Ã¼JpublicRfull_tX¡€x‚
idinteger (‚
vtext‚
bigtext ©ï °Ùí(é0ä8«ç¥ª«½˜Broundtrip_Ã¼JpublicRfull_tX¡€j jjZsmall