"""Every JSON example of NetPay's documentation, verbatim, as test vectors.

Sources (outside this repository, quoted here so the tests stand alone):

- ``seeds/000`` "Smart Accounts" page (es): token answer, push requests, push answer, a result;
- ``seeds/001`` "Recibiendo la respuesta" page (es): data model, results, configuration probe;
- ``seeds/002`` English response page: the 38-field data-model table and many results;
- ``NETPAY-FACTS.md`` §2-§4: token and OAuth error shapes, push requests and answers, a real
  captured sale (2024) and the newer configuration probe.

Every constant is the exact text of the example (whitespace, Spanish accents and odd spacing
included) as a ``str``; a terminal posts it UTF-8 encoded, which is what ``ALL_RESULTS`` holds.
Two seed-000 examples are broken in the page itself; both the text as printed and a repaired
version are kept, and the repair is spelled out next to each. Where NETPAY-FACTS.md quotes a seed
example byte for byte, its constant is an alias of the seed one.
"""

# Vectors are copied verbatim, so some lines (hexSign blobs, the one-line real payload) are long.
# ruff: noqa: E501

from __future__ import annotations

from decimal import Decimal
from typing import NamedTuple

# ============================================================================================
# seeds/000 - Smart Accounts (es)
# ============================================================================================

#: Token endpoint, "Sucess:" answer.
SEED000_TOKEN = """\
{
"access_token": "CI6IkpXVCJ9wianReyJhdWQiOlsib2F1dGgyX2lkIl0sInVzZX",
"token_type": "bearer",
"refresh_token": "mlkLnJtei45NUBnbWFpbC5jb20iLCJzY6ImRhd_3yghIRLnew",
"expires_in": 43199,
"scope": "read write",
"jti": "32116378-023b-9331-0920-ff1e2e200601"
}"""

#: "Ejemplo de un request de venta con smart Account activado". The blank line inside
#: ``traceability`` holds one space in the page; it is written ``\x20`` so no line of this file
#: ends in whitespace.
SEED000_SALE_REQUEST = """\
{
   "traceability": {
\x20
   },
   "amount": 1.01,
   "serialNumber": "0821000119",
   "storeId": "455311",
   "isSmartAccounts":"true"
}"""

#: "Respuesta del servicio" after the sale, the reprint and the cancel (three identical copies).
SEED000_PUSH_ANSWER = """\
{
   "code": "00",
   "message": "Mensaje enviado exitosamente"
}"""

#: "Ejemplo de request de una reimpresión" as printed: the opening ``{`` is missing.
SEED000_REPRINT_REQUEST_AS_PRINTED = """\
"traceability": {
   },
   "orderId": "200624084826-0821000119",
   "serialNumber": "0821000119",
   "storeId": "455311",
   "isSmartAccounts":"true"
}"""

#: Repaired: ``"{\n"`` prepended (the missing opening brace and its line break); nothing else.
SEED000_REPRINT_REQUEST = "{\n" + SEED000_REPRINT_REQUEST_AS_PRINTED

#: Cancellation "Body Request".
SEED000_CANCEL_REQUEST = """\
{
   "traceability": {
   },
   "orderId": "200623160129-0821000119",
   "serialNumber": "0821000119",
   "storeId": "455311",
   "isSmartAccounts":"true"
}"""

#: "Json de respuesta" as printed: the page breaks it mid-line, the ``hexSign`` line is only
#: ``  "hexSign`` (no closing quote, no value, no comma), so it is not JSON.
SEED000_RESULT_AS_PRINTED = """\
{
  "affiliation": "1234567",
  "applicationLabel": "MasterCard",
  "arqc": "123ABCDE5220AAA0",
  "aid": "A00000000000101",
  "amount": "0.01",
  "authCode": "002001",
  "bankName": "SANTANDER",
  "cardExpDate": "02/24",
  "cardType": "C",
  "cardTypeName": "MASTERCARD",
  "cityName": "Monterrey NUEVO LEON",
  "responseCode": "00",
  "hasPin": false,
  "hexSign
  "isQps": 0.0,
  "message": "Transacción exitosa",
  "moduleCharge": "2",
  "moduleLote": "1",
  "customerName": "NOMBRE CLIENTE",
  "terminalId": "0100000001",
  "orderId": "191203000001-0010000001",
  "preAuth": "0",
  "preStatus": 0.0,
  "promotion": "0",
  "rePrintDate": "1.1.3",
  "rePrintMark": "MASTER",
  "reprintModule": "C",
  "cardNumber": "1234",
  "storeName": "Netpay",
  "streetName": "Centro",
  "ticketDate": "DIC. 03, 19 10:40:46 ",
  "tipAmount": "0.0",
  "tipLessAmount": "0.01",
  "transDate": "2019-12-03 10:38:25.CST",
  "transType": "A",
  "transactionCertificate": "01ABCA111001CC001",
  "traceability": {}
}"""

#: Repaired: the line ``  "hexSign`` becomes ``  "hexSign": "",`` (closing quote, colon, an empty
#: value because the signature blob is lost, and the comma); every other byte is as printed.
SEED000_RESULT = SEED000_RESULT_AS_PRINTED.replace('  "hexSign\n', '  "hexSign": "",\n')

# ============================================================================================
# seeds/001 - Recibiendo la respuesta (es)
# ============================================================================================

#: What the receiver must answer ("Requisitos").
SEED001_ACK = """\
{
    "code": "00",
    "message": "Recibido"
}"""

#: "Modelo de datos": a template with type names for values, *not* JSON (``boolean``,
#: ``decimal``, ``object`` are bare words). Its keys are the documented fields.
SEED001_DATA_MODEL = """\
{
  "affiliation": "string",
  "aid": "string",
  "amount": "string",
  "applicationLabel": "string",
  "arqc": "string",
  "authCode": "string",
  "bankName": "string",
  "cardExpDate": "string",
  "cardNumber": "string",
  "cardType": "string",
  "cardTypeName": "string",
  "cityName": "string",
  "customerName": "string",
  "folioNumber": "string",
  "hasPin": boolean,
  "hexSign": "string",
  "internalNumber": "string",
  "isQps": decimal,
  "message": "string",
  "moduleCharge": "string",
  "moduleLote": "string",
  "orderId": "string",
  "preAuth": "string",
  "preStatus": decimal,
  "promotion": "string",
  "rePrintDate": "string",
  "rePrintMark": "string",
  "reprintModule": "string",
  "responseCode": "string",
  "storeName": "string",
  "streetName": "string",
  "tableId": "string",
  "terminalId": "string",
  "ticketDate": "string",
  "tipAmount": "string",
  "tipLessAmount": "string",
  "traceability": object,
  "transDate": "string",
  "transType": "string",
  "transactionCertificate": "string"
}"""

#: "Objeto traceability" example. Not valid JSON either: ``0987`` has a leading zero.
SEED001_TRACEABILITY_EXAMPLE = """\
{
    "traceability": {
      "idProducto": "123456",
      "idTienda": 0987
    }
}"""

#: "Transacción éxitosa": approved sale without PIN.
SEED001_APPROVED_NO_PIN = """\
{
  "affiliation": "7110001",
  "applicationLabel": "MASTERCARD",
  "arqc": "9A011111A8C81111",
  "aid": "A0000000041010",
  "amount": "100.49",
  "authCode": "222222",
  "bankName": "INBURSA",
  "cardExpDate": "01/23",
  "cardType": "C",
  "cardTypeName": "MASTERCARD",
  "cityName": "Monterrey NUEVO LEON",
  "responseCode": "00",
  "hasPin": false,
  "hexSign": "00000100000001DA0000009E000000040800031CFF0FF02",
  "isQps": 0.0,
  "message": "Transacción exitosa",
  "moduleCharge": "1",
  "moduleLote": "1",
  "customerName": "John Doe",
  "terminalId": "0800000000",
  "orderId": "200310000001-0800000000",
  "preAuth": "0",
  "preStatus": 0.0,
  "promotion": "0",
  "rePrintDate": "1.1.8_20200220",
  "rePrintMark": "MASTER",
  "reprintModule": "C",
  "cardNumber": "0001",
  "storeName": "Netpay",
  "streetName": "Ricardo Maragain",
  "ticketDate": "MAR. 19, 20 12:51:45 ",
  "tipAmount": "0.0",
  "tipLessAmount": "1.0",
  "transDate": "2020-03-19 12:51:56.CST",
  "transType": "A",
  "transactionCertificate": "D021DCDC1AE1C11F",
  "traceability": {}
}"""

#: "Configuración de la aplicación": the probe sent when the response URL is first saved.
SEED001_PROBE = """\
{
  "folioNumber": "",
  "hasPin": false,
  "internalNumber": "",
  "isQps": 0.0,
  "preStatus": 0.0,
  "tableId": ""
}"""

#: "Cancelado por el Usuario / time out" (code 02).
SEED001_TIMEOUT_02 = """\
{
  "responseCode": "02",
  "hasPin": false,
  "internalNumber": "",
  "isQps": 0.0,
  "message": "Cancelado por el Usuario",
  "preStatus": 0.0,
  "tableId": "",
  "traceability": {}
}"""

#: "Promoción inválida para tipo de tarjeta" (code 48).
SEED001_DECLINED_48 = """\
{
  "responseCode": "48",
  "hasPin": false,
  "internalNumber": "",
  "isQps": 0.0,
  "message": "PROMOCION NO VALIDA PARA EL TIPO DE TARJETA",
  "preStatus": 0.0,
  "tableId": "",
  "traceability": {}
}"""

#: "Otro tipo de respuestas": 13, 56 and 14.
SEED001_DECLINED_13 = """\
{
  "responseCode": "13",
  "hasPin": false,
  "internalNumber": "",
  "isQps": 0.0,
  "message": "TRANSACCION NO PERMITIDA",
  "preStatus": 0.0,
  "tableId": "",
  "traceability": {}
}"""

SEED001_DECLINED_56 = """\
{
  "responseCode": "56",
  "hasPin": false,
  "internalNumber": "",
  "isQps": 0.0,
  "message": "TARJETA INVALIDA",
  "preStatus": 0.0,
  "tableId": "",
  "traceability": {}
}"""

SEED001_DECLINED_14 = """\
{
  "responseCode": "14",
  "hasPin": false,
  "internalNumber": "",
  "isQps": 0.0,
  "message": "TARJETA INVALIDA",
  "preStatus": 0.0,
  "tableId": "",
  "traceability": {}
}"""

# ============================================================================================
# seeds/002 - English response page
# ============================================================================================

#: 7.2 Requirements: the answer (no indentation on this page).
SEED002_ACK = """\
{
"code": "00",
"message": "Recibido"
}"""

#: 7.3 Data model: the 38-row table with the database type (and so the length) of each field.
SEED002_DATA_MODEL_TABLE = """\
Id | Field name | Description | Data type |
---|---|---|---|
1 | affiliation | Commerce affiliation number | VARCHAR2(50 BYTE) |
2 | applicationLabel | Information on card reading. | VARCHAR2(100 BYTE) |
3 | arqc | Information on card reading. | VARCHAR2(250 BYTE) |
4 | aid | Information on card reading. | VARCHAR2(50 BYTE) |
5 | amount | Total amount of transactions with everything and tip. | NUMBER(15,2) |
6 | authCode | Value generated by the authorization authority for an approved transaction. | VARCHAR2(7 BYTE) |
7 | bankName | Name of the financial institution issuing the card. | VARCHAR2(250 BYTE) |
8 | cardExpDate | Card expiration date in MM/YY format. | VARCHAR2(5 BYTE) |
9 | cardType | Card type identifier. Debit (D), credit (C). | VARCHAR2(20 BYTE) |
10 | cardTypeName | Represents the name of the card brand type, Visa, Master Card, etc. | VARCHAR2(250 BYTE) |
11 | cityName | City with which the trade was registered. | VARCHAR2(150 BYTE) |
12 | responseCode | Response code based on the status of the transaction. The value 00 represents a successful transaction, any other value can be taken as a problem with the transaction. | VARCHAR2(2 BYTE) |
13 | folioNumber | Transaction identification number that can be sent in the sale request. | VARCHAR2(250 BYTE) |
14 | hasPin | Indicates if the transaction was approved by PIN. | false o true |
15 | hexSign | Handwritten signature in case the card does not have a PIN. | VARCHAR2(4000 BYTE) |
16 | isQps | Indicates the amount charged by quick payment service. | VARCHAR2(1 BYTE) |
17 | message | Message indicating the status of the transaction. You can indicate if it was accepted or declined and for what reason. | VARCHAR2(200 BYTE) |
18 | moduleCharge | Internal identifier. | VARCHAR2(20 BYTE) |
19 | moduleLote | Internal identifier. | NUMBER (9) |
20 | customerName | Name of the cardholder. | VARCHAR2(100 BYTE) |
21 | terminalId | Terminal serial number. | VARCHAR2(20 BYTE) |
22 | orderId | Transaction number identifier. It can be used later in reprint and cancellation. | VARCHAR2(36 BYTE) |
23 | preAuth | Pre-authorization. | NUMBER (9) |
24 | preStatus | Pre-authorization. | NUMBER(15,2) |
25 | promotion | Indicates the number of months without interest in which a transaction was partialized. | VARCHAR2(20 BYTE) |
26 | rePrintDate | Indicates the version of the application. | VARCHAR2(100 BYTE) |
27 | rePrintMark | Internal identifier. | VARCHAR2(100 BYTE) |
28 | reprintModule | Internal identifier. | VARCHAR2(1 BYTE) |
29 | cardNumber | Last 4 digits of the card read. | VARCHAR2(50 BYTE) |
30 | storeName | Name of the trade registered. | VARCHAR2(60 BYTE) |
31 | streetName | Registered business address. | VARCHAR2(150 BYTE) |
32 | ticketDate | Date and time of the transaction. | VARCHAR2(100 BYTE) |
33 | tipAmount | Indicate the amount for tip, if sent. | NUMBER |
34 | tipLessAmount | Indicates the amount less tip. | NUMBER(15,2) |
35 | transDate | Date and time of the transaction. | DATE |
36 | transType | Indicates the type of operation performed. Sale (A), Cancellation (V). | VARCHAR2(5 BYTE) |
37 | transactionCertificate | Information on card reading. | VARCHAR2(50 BYTE) |
38 | traceability | Object for sending additional information. | Object |"""

#: 7.4 "Succesful transaction", first example: approved with PIN (``hasPin`` true, no signature).
SEED002_APPROVED_PIN = """\
{
"affiliation": "7389108",
"applicationLabel": "BANCOMER VISA",
"arqc": "5769022C62DAD4BD",
"aid": "A0000000032010",
"amount": "2.0",
"authCode": "222222",
"bankName": "BANCOMER",
"bin": "415231",
"cardExpDate": "11/20",
"cardType": "D",
"cardTypeName": "VISA",
"cityName": "Guadalupe NUEVO LEON",
"responseCode": "00",
"folioNumber": "12356",
"hasPin": true,
"hexSign": "",
"isQps": 0,
"isRePrint": false,
"message": "Transacción exitosa",
"moduleCharge": "3",
"moduleLote": "1",
"customerName": " ",
"terminalId": "1490293930",
"orderId": "210304143337-1490293930",
"preAuth": "0",
"preStatus": 0,
"promotion": "00",
"rePrintDate": "1.2.8_20210203",
"rePrintMark": "VISA",
"reprintModule": "C",
"cardNumber": "8610",
"storeName": "COMERCIALIZADORA DE MANGUERAS DE CHIHUAHUA SA DE CV",
"streetName": "AVE PABLO LIVAS 7200",
"ticketDate": "MAR. 04, 21 14:33:38 ",
"tipAmount": "0.0",
"tipLessAmount": "2.0",
"traceability": {
"idReferencia": "CD0000000000"
},
"transDate": "2021-03-04 14:33:37.CST",
"transType": "A",
"transactionCertificate": "8757257129B19003"
}"""

#: Second example: approved without PIN, with the signature in ``hexSign``.
SEED002_APPROVED_NO_PIN = """\
{
"affiliation": "7389108",
"applicationLabel": "VISA CREDITO",
"arqc": "F1648A419561ED25",
"aid": "A0000000031010",
"amount": "1.0",
"authCode": "222222",
"bankName": "BANORTE",
"bin": "493173",
"cardExpDate": "01/21",
"cardType": "C",
"cardTypeName": "VISA",
"cityName": "Guadalupe NUEVO LEON",
"responseCode": "00",
"folioNumber": "1235",
"hasPin": false,
"hexSign": "00000100000001DA0000009E000000040800031CFF02FF02D3043B653263359F0AF79846FE503D29AFED727442B52244782286DA831EE8FF02289E30401A72299B0CFF006A849ED2C985BC47C6BE0506A5C1F7CA627C2C8EA39C3A84EE4A0D89F36138FF02075BA8846842C4588866931840DD512B7A16193699D76B63D6D348B05E8469DCFF02FF02FF02FF02FF02FF02D4BB2780FF0202B49CFF02845CFF022662E975F74CCAD8B498B36DCBFA94152C63BBB2E21FF0F72C3974DF7B32669E4FCB0E1D240E596EE1132C9EFEFF02005E71604847C92BF0D8D60071A5B63B99160DAF4239A40B47988EE516FCFF021B5A8E2CE96342E49BF2D7712C32868B797A18B38583A6A2717CC6132AFF005486EC5EDF1B11AD80FF025620FF023B90FF024CFF020DFF021380FF02C980FF0215FF024EFF02F0D7FD3D75E66A137FBD090581BBCCF304BDF9DFFED9FB1D47C3412F5ACF0499DD37C3EB3B780062B4FA74EB5C83532E221CFA9DC194153F6E548EFF025247B5AE6EAE339E3EE758C3D0871234AB7286F871FDE44099D18B8EC8FF024F0FC24435FB120E140C41A17DF990DED7F691CE2B4DA75A9E3830FF02FF000B80FF024DFF0206FF02FC6080FF02FF02FF02FF02FF02FF008AD016B3DABE23E8B9A740B3B4560822F62C040F510B7C5916D1DDD06565D5C70EB0737C10DE0CC7BA0385B566BAA560A641EFE2BF40C6190CFF02533D6F7718D9E905BC6F4DBA31B0BBE0EEF6DB728E749A1CDA3EC2D2084B8FB810B77720FF02431A72D9126620FF02FF02FF02",
"isQps": 0,
"isRePrint": false,
"message": "Transacción exitosa",
"moduleCharge": "1",
"moduleLote": "1",
"customerName": "TREJO PECINA/AGUSTIN ",
"terminalId": "1490293930",
"orderId": "210304142730-1490293930",
"preAuth": "0",
"preStatus": 0,
"promotion": "00",
"rePrintDate": "1.2.8_20210203",
"rePrintMark": "VISA",
"reprintModule": "C",
"cardNumber": "8425",
"storeName": "COMERCIALIZADORA DE MANGUERAS DE CHIHUAHUA SA DE CV",
"streetName": "AVE PABLO LIVAS 7200",
"ticketDate": "MAR. 04, 21 14:27:31 ",
"tipAmount": "0.0",
"tipLessAmount": "1.0",
"traceability": {
"idReferencia": "CD0000000000"
},
"transDate": "2021-03-04 14:27:31.CST",
"transType": "A",
"transactionCertificate": "2E8834BB688B2202"
}"""

#: Third example: the reprint of the second (``isRePrint`` true, "Transaccion Valida",
#: ``transDate`` ending ``.0``, no ``hasPin``).
SEED002_REPRINT = """\
{
"affiliation": "7389108",
"applicationLabel": "VISA CREDITO",
"arqc": "F1648A419561ED25",
"aid": "A0000000031010",
"amount": "1",
"authCode": "222222",
"bankName": "BANORTE",
"bin": "",
"cardExpDate": "01/21",
"cardType": "C",
"cardTypeName": "VISA",
"cityName": "Guadalupe,NUEVO LEON",
"responseCode": "00",
"folioNumber": "1235",
"hexSign": "00000100000001DA0000009E000000040800031CFF02FF02D3043B653263359F0AF79846FE503D29AFED727442B52244782286DA831EE8FF02289E30401A72299B0CFF006A849ED2C985BC47C6BE0506A5C1F7CA627C2C8EA39C3A84EE4A0D89F36138FF02075BA8846842C4588866931840DD512B7A16193699D76B63D6D348B05E8469DCFF02FF02FF02FF02FF02FF02D4BB2780FF0202B49CFF02845CFF022662E975F74CCAD8B498B36DCBFA94152C63BBB2E21FF0F72C3974DF7B32669E4FCB0E1D240E596EE1132C9EFEFF02005E71604847C92BF0D8D60071A5B63B99160DAF4239A40B47988EE516FCFF021B5A8E2CE96342E49BF2D7712C32868B797A18B38583A6A2717CC6132AFF005486EC5EDF1B11AD80FF025620FF023B90FF024CFF020DFF021380FF02C980FF0215FF024EFF02F0D7FD3D75E66A137FBD090581BBCCF304BDF9DFFED9FB1D47C3412F5ACF0499DD37C3EB3B780062B4FA74EB5C83532E221CFA9DC194153F6E548EFF025247B5AE6EAE339E3EE758C3D0871234AB7286F871FDE44099D18B8EC8FF024F0FC24435FB120E140C41A17DF990DED7F691CE2B4DA75A9E3830FF02FF000B80FF024DFF0206FF02FC6080FF02FF02FF02FF02FF02FF008AD016B3DABE23E8B9A740B3B4560822F62C040F510B7C5916D1DDD06565D5C70EB0737C10DE0CC7BA0385B566BAA560A641EFE2BF40C6190CFF02533D6F7718D9E905BC6F4DBA31B0BBE0EEF6DB728E749A1CDA3EC2D2084B8FB810B77720FF02431A72D9126620FF02FF02FF02",
"internalNumber": "",
"isQps": 0,
"isRePrint": true,
"message": "Transaccion Valida",
"moduleCharge": "1",
"moduleLote": "1",
"customerName": "TREJO PECINA/AGUSTIN",
"terminalId": "1490293930",
"orderId": "210304142730-1490293930",
"preAuth": "0",
"preStatus": 0,
"promotion": "0",
"rePrintDate": "1.2.8_20210203",
"rePrintMark": "VISA",
"reprintModule": "C",
"cardNumber": "8425",
"storeName": "COMERCIALIZADORA DE MANGUERAS DE CHIHUAHUA SA DE CV",
"streetName": "AVE PABLO LIVAS 7200",
"tableId": "",
"ticketDate": "MAR. 04, 21 14:27:31",
"tipAmount": "0",
"tipLessAmount": "0",
"traceability": {},
"transDate": "2021-03-04 14:27:30.0",
"transType": "A",
"transactionCertificate": "F1648A419561ED25"
}"""

#: Fourth example: the cancellation of the second (``transType`` "V", ``tipAmount`` "null").
SEED002_CANCEL = """\
{
"affiliation": "7389108",
"applicationLabel": "VISA CREDITO",
"arqc": "F1648A419561ED25",
"aid": "A0000000031010",
"amount": "1.0",
"authCode": "222222",
"bankName": "BANORTE",
"bin": "",
"cardExpDate": "21/01",
"cardType": "C",
"cardTypeName": "VISA",
"cityName": "Guadalupe NUEVO LEON",
"responseCode": "00",
"folioNumber": "1235",
"hasPin": false,
"hexSign": "",
"isQps": 0,
"isRePrint": false,
"message": "Transacción exitosa",
"moduleCharge": "2",
"moduleLote": "1",
"customerName": "TREJO PECINA/AGUSTIN",
"terminalId": "1490293930",
"orderId": "210304142730-1490293930",
"preAuth": "0",
"preStatus": 0,
"promotion": "00",
"rePrintDate": "1.2.8_20210203",
"rePrintMark": "VISA",
"reprintModule": "C",
"cardNumber": "8425",
"storeName": "COMERCIALIZADORA DE MANGUERAS DE CHIHUAHUA SA DE CV",
"streetName": "AVE PABLO LIVAS 7200",
"ticketDate": "MAR. 04, 21 14:27:31",
"tipAmount": "null",
"tipLessAmount": "1.0",
"traceability": {},
"transDate": "2021-03-04 14:32:22.CST",
"transType": "V"
}"""

#: "User Canceled / time out" (code 02).
SEED002_TIMEOUT_02 = """\
{
"responseCode": "02",
"hasPin": false,
"internalNumber": "",
"message": "Cancelado por el Usuario",
"tableId": "",
"traceability": {}
}"""

#: "Invalid promotion for card type" (code 48).
SEED002_DECLINED_48 = """\
{
"responseCode": "48",
"hasPin": false,
"internalNumber": "",
"message": "PROMOCION NO VALIDA PARA EL TIPO DE TARJETA",
"tableId": "",
"traceability": {}
}"""

#: "Other types of responses": 13, 56, 34 ...
SEED002_DECLINED_13 = """\
{
"responseCode": "13",
"hasPin": false,
"internalNumber": "",
"message": "TRANSACCION NO PERMITIDA",
"tableId": "",
"traceability": {}
}"""

SEED002_DECLINED_56 = """\
{
"responseCode": "56",
"hasPin": false,
"internalNumber": "",
"message": "TARJETA INVALIDA",
"tableId": "",
"traceability": {}
}"""

SEED002_DECLINED_34 = """\
{
"responseCode": "34",
"hasPin": false,
"internalNumber": "",
"message": "TARJETA RECHAZADA",
"tableId": "",
"traceability": {}
}"""

#: ... and the newer app's shape (``bin``, ``folioNumber``, ``isRePrint``): 34, 05 and 02.
SEED002_DECLINED_34_NEW_APP = """\
{
"bin": "",
"responseCode": "34",
"folioNumber": "prueba",
"internalNumber": "",
"isRePrint": false,
"message": "TRANSACCION RECHAZADA",
"tableId": "",
"traceability": {}
}"""

SEED002_CONNECTION_ERROR_05 = """\
{
"bin": "",
"responseCode": "05",
"folioNumber": "prueba",
"internalNumber": "",
"isRePrint": false,
"message": "Error de conexión",
"tableId": "",
"traceability": {}
}"""

SEED002_TIMEOUT_02_NEW_APP = """\
{
"bin": "",
"responseCode": "02",
"folioNumber": "prueba",
"internalNumber": "",
"isRePrint": false,
"message": "Cancelado por el Usuario",
"tableId": "",
"traceability": {}
}"""

# ============================================================================================
# NETPAY-FACTS.md §2-§4
# ============================================================================================

#: §2.2 token success body: the seed-000 text byte for byte.
FACTS_TOKEN = SEED000_TOKEN

#: §2.3 the only part of NetPay's UNAUTHORIZED body that was ever seen (truncated, not JSON).
FACTS_UNAUTHORIZED_PREFIX = """\
{
"timestamp": "2020-02-19T15:21:21.347+0000",
"status": 401,
"error":"""

# §2.3 token-endpoint error bodies, as reconstructed from Spring (inferred, not seen from NetPay).
#: UNAUTHORIZED (bad or absent Basic client credential), HTTP 401.
FACTS_SPRING_UNAUTHORIZED = '{"timestamp":"2020-02-19T15:21:21.347+0000","status":401,"error":"Unauthorized","message":"Unauthorized","path":"/oauth/token"}'
#: MISSING GRANT TYPE, HTTP 400.
FACTS_OAUTH_MISSING_GRANT_TYPE = (
    '{"error":"invalid_request","error_description":"Missing grant type"}'
)
#: UNSUPPORTED GRANT TYPE, HTTP 400.
FACTS_OAUTH_UNSUPPORTED_GRANT_TYPE = (
    '{"error":"unsupported_grant_type","error_description":"Unsupported grant type: <value>"}'
)
#: INVALID USERNAME OR PASSWORD, HTTP 400.
FACTS_OAUTH_BAD_CREDENTIALS = '{"error":"invalid_grant","error_description":"Bad credentials"}'
#: Refresh token garbage, HTTP 401.
FACTS_OAUTH_REFRESH_GARBAGE = (
    '{"error":"invalid_token","error_description":"Cannot convert access token to JSON"}'
)
#: Refresh token expired, HTTP 401.
FACTS_OAUTH_REFRESH_EXPIRED = (
    '{"error":"invalid_token","error_description":"Invalid refresh token (expired): <token>"}'
)
#: ``implicit`` grant, HTTP 400.
FACTS_OAUTH_IMPLICIT_GRANT = '{"error":"invalid_grant","error_description":"Implicit grant type not supported from token endpoint"}'

#: §3.1 seed sale example: the seed-000 text byte for byte.
FACTS_SALE_REQUEST = SEED000_SALE_REQUEST

#: §3.1 "Real request captured in R3 shape": a template with placeholders (``{...}``, ``N``,
#: ``true|false``), not JSON.
FACTS_SALE_REQUEST_R3_SHAPE = '{"traceability":{...},"serialNumber":"...","amount":N,"folioNumber":"...","storeId":"...","isSmartAccounts":"true","disablePrintAnimation":true|false}'

#: §3.2 seed reprint example, quoted with the same missing brace.
FACTS_REPRINT_REQUEST_AS_PRINTED = SEED000_REPRINT_REQUEST_AS_PRINTED

#: §3.3 real reprint-by-folio request: ``orderId`` present and empty, ``folioId`` set.
FACTS_REPRINT_BY_FOLIO_REQUEST = '{"serialNumber":"1494113052","orderId":"","folioId":"24LNA_TNP_33","storeId":"0","isSmartAccounts":true,"disablePrintAnimation":true}'

#: §3.4 English doc's cancel body "as stored, truncated"; the ``\n`` are literal backslash-n.
FACTS_CANCEL_REQUEST_TRUNCATED = (
    r'{"traceability": {},\n    "serialNumber": "{serialNumber}",\n    "orderId": "{orderId}",'
)

#: §3.5 push answers: SUCCESS (four-space indentation, unlike seed 000) ...
FACTS_PUSH_OK = """\
{
    "code": "00",
    "message": "Mensaje enviado exitosamente"
}"""

#: ... INVALID TOKEN (bad or expired Bearer) ...
FACTS_INVALID_TOKEN = """\
{
    "error": "invalid_token",
    "error_description": "Cannot convert access token to JSON"
}"""

#: ... and MISSING TERMINAL (code 19).
FACTS_PUSH_TERMINAL_NOT_FOUND = """\
{
    "code": "19",
    "message": "No se encontró la terminal"
}"""

#: §3.5 other resource-server errors (inferred): no Authorization header, expired JWT.
FACTS_OAUTH_NO_AUTHORIZATION = '{"error":"unauthorized","error_description":"Full authentication is required to access this resource"}'
FACTS_OAUTH_ACCESS_TOKEN_EXPIRED = (
    '{"error":"invalid_token","error_description":"Access token expired: <token>"}'
)

#: §4.1 the receiver's answer: the seed-001 text byte for byte.
FACTS_ACK = SEED001_ACK

#: §4.3 full real sale payload (sandbox, 2024); NETPAY-FACTS.md shortens ``hexSign`` with "…".
FACTS_REAL_SALE_2024 = '{"affiliation":"7389108","applicationLabel":"VISA DEBITO","arqc":"41B42E2D7E65A0E5","aid":"A0000000031010","amount":"200.0","authCode":"222222","bankName":"BANAMEX","bin":"476684","cardExpDate":"11/24","cardType":"D","cardTypeName":"VISA","cityName":"OTHON P. BLANCO QUINTANA ROO","responseCode":"00","folioNumber":"16","hasPin":false,"hexSign":"00000100000001DA…","isQps":0,"isRePrint":false,"message":"Transacción exitosa","moduleCharge":"433","moduleLote":"6","customerName":" PREALTA / DEBITO         ","terminalId":"1494113052","orderId":"240305131447-1494113052","preAuth":"0","preStatus":0,"promotion":"00","rePrintDate":"1.3.10.2.p.p_20231005","rePrintMark":"VISA","reprintModule":"C","cardNumber":"9493","storeName":"EUROPIEL CHETUMAL","streetName":"AV. INSURGENTES  KM 5.025","ticketDate":"MAR. 05, 24 12:14:45 ","tipAmount":"0.0","tipLessAmount":"200.0","traceability":{"id_sesion_cajero":"3019","smart_accounts":true,"id_cajero":"784","folio_venta":"23MAT99","store_id_netpay":"455311","id_devolucion_relacionada":"26629","id_sucursal":"1"},"transDate":"2024-03-05 13:14:48.CST","transType":"A","transactionCertificate":"CE53C50992C9C21B","transactionId":"2A667C6A-563D-5377-E1F2-A83BACC5F756"}'

#: §4.4 code 02 and code 05: the seed texts byte for byte.
FACTS_TIMEOUT_02 = SEED001_TIMEOUT_02
FACTS_CONNECTION_ERROR_05 = SEED002_CONNECTION_ERROR_05

#: §4.5 documented configuration probe: the seed-001 text byte for byte.
FACTS_PROBE = SEED001_PROBE

#: §4.5 the probe newer app versions send instead (no ``traceability``, no ``responseCode``).
PROBE_LIST_OF_PAYS = '{"folioNumber":"","internalNumber":"","tableId":"","listOfPays":[],"tipTotalAmount":"","totalAmount":""}'

# ============================================================================================
# What the documentation says each terminal body is
# ============================================================================================


class Expected(NamedTuple):
    """How the docs classify one terminal body (plain values, independent of the code)."""

    kind: str  # "sale", "cancellation", "reprint" or "probe"
    status: str  # a netpay_smart.wire.Status value
    approved: bool
    response_code: str | None
    order_id: str | None
    amount: Decimal | None
    probe_shape: str | None = None


def _sale(code: str, status: str) -> Expected:
    """A non-approved answer to a sale push: no order id, no amount."""
    return Expected("sale", status, False, code, None, None)


_PROBE = Expected("probe", "none", False, None, None, None, "documented")

#: Every terminal -> receiver body in the docs, UTF-8 encoded as a terminal posts it.
#: Declines and 02 are answers to a sale push (no ``transType``), so their kind is "sale".
ALL_RESULTS: list[tuple[str, bytes, Expected]] = [
    (
        "SEED000_RESULT",
        SEED000_RESULT.encode(),
        Expected("sale", "approved", True, "00", "191203000001-0010000001", Decimal("0.01")),
    ),
    (
        "SEED001_APPROVED_NO_PIN",
        SEED001_APPROVED_NO_PIN.encode(),
        Expected("sale", "approved", True, "00", "200310000001-0800000000", Decimal("100.49")),
    ),
    ("SEED001_PROBE", SEED001_PROBE.encode(), _PROBE),
    ("SEED001_TIMEOUT_02", SEED001_TIMEOUT_02.encode(), _sale("02", "user_cancelled")),
    ("SEED001_DECLINED_48", SEED001_DECLINED_48.encode(), _sale("48", "declined")),
    ("SEED001_DECLINED_13", SEED001_DECLINED_13.encode(), _sale("13", "declined")),
    ("SEED001_DECLINED_56", SEED001_DECLINED_56.encode(), _sale("56", "declined")),
    ("SEED001_DECLINED_14", SEED001_DECLINED_14.encode(), _sale("14", "declined")),
    (
        "SEED002_APPROVED_PIN",
        SEED002_APPROVED_PIN.encode(),
        Expected("sale", "approved", True, "00", "210304143337-1490293930", Decimal("2.00")),
    ),
    (
        "SEED002_APPROVED_NO_PIN",
        SEED002_APPROVED_NO_PIN.encode(),
        Expected("sale", "approved", True, "00", "210304142730-1490293930", Decimal("1.00")),
    ),
    (
        # reprintModule "C": the reprinted sale still stands.
        "SEED002_REPRINT",
        SEED002_REPRINT.encode(),
        Expected("reprint", "approved", True, "00", "210304142730-1490293930", Decimal("1.00")),
    ),
    (
        # The cancellation itself was approved ("Su transacción ha sido aprobada", seed 000).
        "SEED002_CANCEL",
        SEED002_CANCEL.encode(),
        Expected(
            "cancellation", "approved", True, "00", "210304142730-1490293930", Decimal("1.00")
        ),
    ),
    ("SEED002_TIMEOUT_02", SEED002_TIMEOUT_02.encode(), _sale("02", "user_cancelled")),
    ("SEED002_DECLINED_48", SEED002_DECLINED_48.encode(), _sale("48", "declined")),
    ("SEED002_DECLINED_13", SEED002_DECLINED_13.encode(), _sale("13", "declined")),
    ("SEED002_DECLINED_56", SEED002_DECLINED_56.encode(), _sale("56", "declined")),
    ("SEED002_DECLINED_34", SEED002_DECLINED_34.encode(), _sale("34", "declined")),
    (
        "SEED002_DECLINED_34_NEW_APP",
        SEED002_DECLINED_34_NEW_APP.encode(),
        _sale("34", "declined"),
    ),
    (
        "SEED002_CONNECTION_ERROR_05",
        SEED002_CONNECTION_ERROR_05.encode(),
        _sale("05", "declined"),
    ),
    (
        "SEED002_TIMEOUT_02_NEW_APP",
        SEED002_TIMEOUT_02_NEW_APP.encode(),
        _sale("02", "user_cancelled"),
    ),
    (
        "FACTS_REAL_SALE_2024",
        FACTS_REAL_SALE_2024.encode(),
        Expected("sale", "approved", True, "00", "240305131447-1494113052", Decimal("200.00")),
    ),
    (
        "PROBE_LIST_OF_PAYS",
        PROBE_LIST_OF_PAYS.encode(),
        Expected("probe", "none", False, None, None, None, "list_of_pays"),
    ),
]

#: Every gateway answer in the docs with the model ``parse_gateway_answer`` must give
#: ("Token", "PushAnswer", "OAuthError" or "SpringError").
GATEWAY_ANSWERS: list[tuple[str, str, str]] = [
    ("SEED000_TOKEN", SEED000_TOKEN, "Token"),
    ("SEED000_PUSH_ANSWER", SEED000_PUSH_ANSWER, "PushAnswer"),
    ("FACTS_PUSH_OK", FACTS_PUSH_OK, "PushAnswer"),
    ("FACTS_PUSH_TERMINAL_NOT_FOUND", FACTS_PUSH_TERMINAL_NOT_FOUND, "PushAnswer"),
    ("FACTS_INVALID_TOKEN", FACTS_INVALID_TOKEN, "OAuthError"),
    ("FACTS_SPRING_UNAUTHORIZED", FACTS_SPRING_UNAUTHORIZED, "SpringError"),
    ("FACTS_OAUTH_MISSING_GRANT_TYPE", FACTS_OAUTH_MISSING_GRANT_TYPE, "OAuthError"),
    ("FACTS_OAUTH_UNSUPPORTED_GRANT_TYPE", FACTS_OAUTH_UNSUPPORTED_GRANT_TYPE, "OAuthError"),
    ("FACTS_OAUTH_BAD_CREDENTIALS", FACTS_OAUTH_BAD_CREDENTIALS, "OAuthError"),
    ("FACTS_OAUTH_REFRESH_GARBAGE", FACTS_OAUTH_REFRESH_GARBAGE, "OAuthError"),
    ("FACTS_OAUTH_REFRESH_EXPIRED", FACTS_OAUTH_REFRESH_EXPIRED, "OAuthError"),
    ("FACTS_OAUTH_IMPLICIT_GRANT", FACTS_OAUTH_IMPLICIT_GRANT, "OAuthError"),
    ("FACTS_OAUTH_NO_AUTHORIZATION", FACTS_OAUTH_NO_AUTHORIZATION, "OAuthError"),
    ("FACTS_OAUTH_ACCESS_TOKEN_EXPIRED", FACTS_OAUTH_ACCESS_TOKEN_EXPIRED, "OAuthError"),
]

#: The receiver's answer as each page shows it.
ACKS: list[tuple[str, str]] = [
    ("SEED001_ACK", SEED001_ACK),
    ("SEED002_ACK", SEED002_ACK),
    ("FACTS_ACK", FACTS_ACK),
]

#: Examples the docs print that are not JSON (templates, truncations, the two broken seed-000
#: examples as printed): reading any of them as a body must fail with ``not_json``.
NOT_JSON: list[tuple[str, str]] = [
    ("SEED000_REPRINT_REQUEST_AS_PRINTED", SEED000_REPRINT_REQUEST_AS_PRINTED),
    ("SEED000_RESULT_AS_PRINTED", SEED000_RESULT_AS_PRINTED),
    ("SEED001_DATA_MODEL", SEED001_DATA_MODEL),
    ("SEED001_TRACEABILITY_EXAMPLE", SEED001_TRACEABILITY_EXAMPLE),
    ("FACTS_UNAUTHORIZED_PREFIX", FACTS_UNAUTHORIZED_PREFIX),
    ("FACTS_SALE_REQUEST_R3_SHAPE", FACTS_SALE_REQUEST_R3_SHAPE),
    ("FACTS_CANCEL_REQUEST_TRUNCATED", FACTS_CANCEL_REQUEST_TRUNCATED),
]
