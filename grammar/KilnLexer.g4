lexer grammar KilnLexer;
// Placeholder until the real grammar lands.
IDENT : [A-Za-z_][A-Za-z0-9_]* ;
WS : [ \t\r\n]+ -> skip ;
