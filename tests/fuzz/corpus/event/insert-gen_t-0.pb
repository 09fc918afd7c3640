	 èÆñBroundtrip_Ã¼JpublicRgen_tXè€x‚
idinteger (‚
ainteger‚
btextĞÈñ èÆñ0ô8ıŠ©ª«½˜Broundtrip_Ã¼JpublicRgen_tXè€j j 
jZx