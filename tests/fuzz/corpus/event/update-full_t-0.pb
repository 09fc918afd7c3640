	 À×íBroundtrip_Ã¼JpublicRfull_tX¡€x‚
idinteger (‚
vtext‚
bigtext ©ï ø¿î(ë0ä8«ç¥ª«½˜Broundtrip_Ã¼JpublicRfull_tX¡€b bbZsmallj jjZsmall