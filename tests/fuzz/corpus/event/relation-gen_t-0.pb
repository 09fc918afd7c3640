	 èÆñBroundtrip_Ã¼JpublicRgen_tXè€x‚
idinteger (‚
ainteger‚
btext