	 ¨€ñBroundtrip_Ã¼JpublicRseqtabXÒ€x‚
idinteger (‚
vtextˆƒñ ˆ‚ñ(0ï8„Ç¨ª«½˜Broundtrip_Ã¼JpublicRseqtabXÒ€j jZy