	 ётбBroundtrip_ГјJpublicRbulkXбЂx‚
idinteger (‚
vtext ©п Ађе(Є0д8«зҐЄ«ЅBroundtrip_ГјJpublicRbulkXбЂj ЦjeZcxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx