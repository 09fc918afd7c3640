	 ∏Ú·Broundtrip_√ºJpublicRbulkX·ÄxÇ
idinteger (Ç
vtext