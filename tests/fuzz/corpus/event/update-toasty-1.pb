	 €–ðBroundtrip_Ã¼JpublicRtoastyX¨€x‚
idinteger (‚
ninteger‚
bigtext˜›ð Èšð(0æ8¶«¦ª«½˜Broundtrip_Ã¼JpublicRtoastyX¨€j j jZshort