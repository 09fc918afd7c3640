	 ¨€ñBroundtrip_Ã¼JpublicRseqtabXÒ€x‚
idinteger (‚
vtextˆƒñ ¨€ñ0ï8„Ç¨ª«½˜Broundtrip_Ã¼JpublicRseqtabXÒ€j jZx