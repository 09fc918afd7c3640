	 ¸òáBroundtrip_Ã¼JpublicRbulkXá€x‚
idinteger (‚
vtext ©ï ¸òá0ä8«ç¥ª«½˜Broundtrip_Ã¼JpublicRbulkXá€j jZx