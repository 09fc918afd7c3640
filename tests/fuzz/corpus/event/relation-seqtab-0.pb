	 ¨€ñBroundtrip_Ã¼JpublicRseqtabXÒ€x‚
idinteger (‚
vtext