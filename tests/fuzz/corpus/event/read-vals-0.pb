´$ ´$8ì­®ª«½˜Broundtrip_Ã¼JpublicRvalsXš€j jjjjjjjjjjjjjjjjjjjjjjj
Zecstaticjjjjjjjpx‚
idinteger (‚
bboolean‚
i2smallint‚
i4integer‚
i8bigint‚

ooid‚
f4¼real‚
f8½double precision‚
n¤numeric‚$
tsÚtimestamp without time zone‚#
tstz 	timestamp with time zone‚
dºdate‚
t»time without time zone‚
ttzò	time with time zone‚
iv¢	interval‚
txtext‚
vc“character varying(12)‚
ch’character(5)‚
jsrjson‚
jbÚjsonb‚
xŽxml‚
u†uuid‚
bybytea‚
e‘€public.mood‚
dm˜€public.posnum‚
iaï	integer[]‚
tañtext[]‚
faþdouble precision[]‚
rÀ	int4range‚
m–money‚
nultext