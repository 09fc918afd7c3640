	 ÈáğBroundtrip_Ã¼JpublicRchildXÇ€x‚
idinteger (‚
pidintegeràãğ Èáğ(0í8ıï§ª«½˜Broundtrip_Ã¼JpublicRchildXÇ€j j 