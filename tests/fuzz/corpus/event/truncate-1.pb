¸üğ ˆüğ0î8¯¨ª«½˜Broundtrip_Ã¼Š
publicparentÂ€Š
publicchildÇ€