// The Kiln lexer (LANGUAGE.md §2). Comments go to the hidden channel so the
// adapter can keep them (ast::File::comments, Decl::doc); white space is
// skipped. Strings, interpolation and heredocs use lexer modes:
//   "   pushes STR, `${` pushes DEFAULT_MODE, `}` pops back (see below),
//   <<EOT pushes HEREDOC; the end-marker line is recognised by the lexer
//   subclass in compiler/syntax/lexer.cpp, which also pops on `}` only when
//   the mode stack is not empty and turns an end of file inside a string or
//   heredoc into STR_UNTERMINATED.
// Nothing here ever fails to match: unknown characters become ERROR_CHAR so
// that the parser, not ANTLR, words the error.
lexer grammar KilnLexer;

// OPEN_DOTDOT: a `..` that nothing on its line continues (`cpus = 8..`);
// the lexer subclass retypes DOTDOT (syntax::OpenRangeFollows), so that
// `8..` then a newline and `memory = ...` is not read as `8..memory`.
tokens { STR_UNTERMINATED, HEREDOC_END, OPEN_DOTDOT }

// ------------------------------------------------------------ comments

DOC_COMMENT   : '///' (~[/\r\n] ~[\r\n]*)? -> channel(HIDDEN) ;
LINE_COMMENT  : ('//' | '#') ~[\r\n]* -> channel(HIDDEN) ;
BLOCK_COMMENT : '/*' .*? ('*/' | EOF) -> channel(HIDDEN) ;
WS            : [ \t\r\n\u000C\uFEFF]+ -> skip ;

// ------------------------------------------------------------ keywords

INPUT     : 'input' ;
LET       : 'let' ;
OUTPUT    : 'output' ;
ASSERT    : 'assert' ;
TYPE      : 'type' ;
PROVIDER  : 'provider' ;
MODULE    : 'module' ;
BACKEND   : 'backend' ;
FOR       : 'for' ;
IN        : 'in' ;
IF        : 'if' ;
TRUE_LIT      : 'true' ;
FALSE_LIT     : 'false' ;
NULL_LIT      : 'null' ;
// Not reserved (a contextual word), but a token so that
// `input x: string sensitive` is LL(1).
SENSITIVE : 'sensitive' ;

// ------------------------------------------------------------ numbers
// FLOAT before QUANTITY: `1e5` is a float, `1e5ms` a quantity. A digit run
// followed by letters is always a QUANTITY; the adapter splits off and checks
// the unit, so `10Gb` is one token with a precise error.

FLOAT      : DIGITS '.' DIGITS EXPONENT? | DIGITS EXPONENT ;
INT        : DIGITS ;
QUANTITY   : DIGITS ('.' DIGITS)? EXPONENT? [A-Za-z_] [A-Za-z0-9_]* ;
BAD_NUMBER : DIGITS '.' DIGITS ('.' DIGITS)+ [A-Za-z0-9_]* ;

fragment DIGITS   : [0-9] [0-9_]* ;
fragment EXPONENT : [eE] [+-]? [0-9]+ ;

IDENT : [A-Za-z_] [A-Za-z0-9_]* ;

// ------------------------------------------------------------ punctuation

HEREDOC_START : '<<' '-'? [A-Za-z_] [A-Za-z0-9_]* [ \t]* ('\r'? '\n' | '\r') -> pushMode(HEREDOC) ;

QUOTE    : '"' -> pushMode(STR) ;
LBRACE   : '{' -> pushMode(DEFAULT_MODE) ;
RBRACE   : '}' ;  // pops in the lexer subclass when the stack is not empty
LBRACK   : '[' ;
RBRACK   : ']' ;
LPAREN   : '(' ;
RPAREN   : ')' ;
COMMA    : ',' ;
DOTDOT   : '..' ;
DOT      : '.' ;
FATARROW : '=>' ;
EQ       : '==' ;
NE       : '!=' ;
LE       : '<=' ;
GE       : '>=' ;
AND      : '&&' ;
OR       : '||' ;
ASSIGN   : '=' ;
COLON    : ':' ;
QUESTION : '?' ;
BANG     : '!' ;
PLUS     : '+' ;
MINUS    : '-' ;
STAR     : '*' ;
SLASH    : '/' ;
PERCENT  : '%' ;
LT       : '<' ;
GT       : '>' ;
PIPE     : '|' ;

ERROR_CHAR : . ;

// ------------------------------------------------------------ "strings"

mode STR;
STR_END          : '"' -> popMode ;
// Escapes are kept as written; the adapter decodes and checks them.
STR_TEXT         : (~["\\$\r\n] | '\\' ~[\r\n])+ | '\\' ;
DOLLAR_ESC       : '$${' ;
INTERP_START     : '${' -> pushMode(DEFAULT_MODE) ;
STR_DOLLAR       : '$' ;
STR_NEWLINE      : ('\r'? '\n' | '\r') -> type(STR_UNTERMINATED), popMode ;

// ------------------------------------------------------------ heredocs

mode HEREDOC;
HD_TEXT          : ~[$\r\n]+ ;
HD_NL            : '\r'? '\n' | '\r' ;
HD_DOLLAR_ESC    : '$${' -> type(DOLLAR_ESC) ;
HD_INTERP        : '${' -> type(INTERP_START), pushMode(DEFAULT_MODE) ;
HD_DOLLAR        : '$' -> type(STR_DOLLAR) ;
