	 àÅñBroundtrip_Ã¼JpublicRddl_tXÚ€x‚
idinteger (‚
atext‚
added¤numeric(12,2)(¸Æñ àÅñ0ó8ù‡©ª«½˜Broundtrip_Ã¼JpublicRddl_tXÚ€j jZagainj21.50