	  ÂñBroundtrip_Ã¼JpublicRddl_tXÚ€x‚
idinteger (‚
atext‚
added¤numeric(12,2)(¨Ãñ  Âñ0ò8Ïƒ©ª«½˜Broundtrip_Ã¼JpublicRddl_tXÚ€j jZafterj21.50