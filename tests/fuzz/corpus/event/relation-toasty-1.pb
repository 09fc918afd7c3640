	 È¸òBroundtrip_Ã¼JpublicRtoastyX¨€x‚
idinteger (‚
ninteger‚
bigtext