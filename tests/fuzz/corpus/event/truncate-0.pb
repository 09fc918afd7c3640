ю║Я ░║Я0П8вь╗╙╚╫≤Broundtrip_ц╪┼
publicseqtabр─≤