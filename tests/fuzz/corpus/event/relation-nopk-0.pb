	 È›ðBroundtrip_Ã¼JpublicRnopkX¯€x‚
ainteger‚
btext