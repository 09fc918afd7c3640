	 øğBroundtrip_Ã¼JpublicRidx_tX´€x‚
ainteger (‚
btext‚
cinteger