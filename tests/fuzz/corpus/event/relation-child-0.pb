	 ÈáğBroundtrip_Ã¼JpublicRchildXÇ€x‚
idinteger (‚
pidinteger