	 è¤ñBroundtrip_Ã¼JpublicRddl_tXÚ€x‚
idinteger (‚
atext‚
goneinteger