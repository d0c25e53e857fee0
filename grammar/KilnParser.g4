parser grammar KilnParser;
options { tokenVocab = KilnLexer; }
file_ : IDENT* EOF ;
