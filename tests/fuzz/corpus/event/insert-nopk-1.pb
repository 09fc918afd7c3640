	 È›ðBroundtrip_Ã¼JpublicRnopkX¯€x‚
ainteger‚
btextˆªð ¨©ð(0ë8‚‘§ª«½˜Broundtrip_Ã¼JpublicRnopkX¯€j j Zin a transaction with messages