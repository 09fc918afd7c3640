	 øğBroundtrip_Ã¼JpublicRidx_tX´€x‚
ainteger (‚
btext‚
cinteger£ğ àŸğ(0è8éì¦ª«½˜Broundtrip_Ã¼JpublicRidx_tX´€j jZtwoj (