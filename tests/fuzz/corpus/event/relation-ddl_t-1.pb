	  ÂñBroundtrip_Ã¼JpublicRddl_tXÚ€x‚
idinteger (‚
atext‚
added¤numeric(12,2)(