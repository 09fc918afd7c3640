	 È›ğBroundtrip_Ã¼JpublicRnopkX¯€x‚
ainteger‚
btextÈğ Èœğ(0ç8â¸¦ª«½˜Broundtrip_Ã¼JpublicRnopkX¯€j jZy