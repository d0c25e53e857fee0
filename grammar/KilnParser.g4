// The Kiln parser (LANGUAGE.md §2-§5). White space and newlines never reach
// the parser: items of a body are self-delimiting (an expression cannot
// continue with a name or a string), so `a = 1\n b = 2` needs no comma and
// commas are simply optional after an item.
//
// Only compiler/syntax sees the generated classes; it turns the tree into
// ast:: nodes. Semantic checks that would make the grammar ambiguous or give
// poor errors (units, escapes, number ranges, keys without interpolation)
// are done by that adapter, not here.
parser grammar KilnParser;

options { tokenVocab = KilnLexer; }

@parser::header {
#ifndef KILN_NESTING_TOO_DEEP_DEFINED
#define KILN_NESTING_TOO_DEEP_DEFINED
#include <exception>
// Thrown when expressions, objects or types nest deeper than max_nesting;
// caught at the edge of compiler/syntax (prevents stack overflow).
struct KilnNestingTooDeep : std::exception {
  const char* what() const noexcept override { return "nesting too deep"; }
};
#endif
}

@parser::members {
 public:
  size_t max_nesting = 200;
  size_t nesting = 0;
  struct NestingGuard {
    KilnParser* parser;
    explicit NestingGuard(KilnParser* p) : parser(p) {
      if (parser->nesting >= parser->max_nesting) throw KilnNestingTooDeep();
      ++parser->nesting;
    }
    ~NestingGuard() { --parser->nesting; }
  };
}

// ------------------------------------------------------------ entry points

file_     : decl* EOF ;
// One declaration and the token after it (a declaration start or EOF), so
// that prediction inside the declaration sees what may follow it; Parse()
// parses declarations one at a time with this rule and rewinds past the
// follower.
declUnit  : decl (EOF | INPUT | LET | OUTPUT | ASSERT | TYPE | PROVIDER | MODULE | BACKEND | IDENT) ;
exprOnly  : expr EOF ;
typeOnly  : typeExpr EOF ;

// ------------------------------------------------------------ declarations

decl
  : INPUT name COLON typeExpr (SENSITIVE (ASSIGN expr)? | ASSIGN expr SENSITIVE?)?   # inputDecl
  | LET name (COLON typeExpr)? ASSIGN expr                                     # letDecl
  | OUTPUT name (COLON typeExpr)? SENSITIVE? ASSIGN expr                        # outputDecl
  | ASSERT expr COMMA expr                                                     # assertDecl
  | TYPE name ASSIGN typeExpr                                                  # typeDecl
  | PROVIDER name name object                                                  # providerDecl
  | BACKEND name object                                                        # backendDecl
  | MODULE name forClause? ifClause? object                                    # moduleDecl
  | resourceKind name forClause? ifClause? object                              # resourceDecl
  ;

resourceKind : IDENT (DOT anyName)? ;
forClause    : FOR name (COMMA name)? IN expr ;
ifClause     : IF expr ;

// Declaration names, variables and references.
name    : IDENT | SENSITIVE ;
// Attribute, field and object-key names, and names after a dot: reserved
// words are allowed here (`type = "object"`, `job.output`).
anyName : IDENT | SENSITIVE | INPUT | LET | OUTPUT | ASSERT | TYPE | PROVIDER
        | MODULE | BACKEND | FOR | IN | IF | TRUE_LIT | FALSE_LIT | NULL_LIT ;

// ------------------------------------------------------------ bodies and objects

object
@init { NestingGuard guard(this); }
  : LBRACE (objectItem COMMA?)* RBRACE ;

objectItem : key ((ASSIGN | COLON) expr | object) ;
key        : anyName | string ;

// ------------------------------------------------------------ expressions
// Precedence, high to low (§5): postfix, unary, * / %, + -, .., comparisons,
// equality, &&, ||, ?:. `MIN..` (OPEN_DOTDOT, an open-ended range) is a
// postfix operator just below the binary `..`.

expr
@init { NestingGuard guard(this); }
  : primary                                          # primaryExpr
  | expr DOT anyName                                 # getAttrExpr
  | expr LBRACK expr RBRACK                          # indexExpr
  | op=(BANG | MINUS) expr                           # unaryExpr
  | expr op=(STAR | SLASH | PERCENT) expr            # binaryExpr
  | expr op=(PLUS | MINUS) expr                      # binaryExpr
  | expr op=DOTDOT expr                              # binaryExpr
  | expr OPEN_DOTDOT                                 # openRangeExpr
  | expr op=(LT | LE | GT | GE) expr                 # binaryExpr
  | expr op=(EQ | NE) expr                           # binaryExpr
  | expr op=AND expr                                 # binaryExpr
  | expr op=OR expr                                  # binaryExpr
  | <assoc=right> expr QUESTION expr COLON expr      # condExpr
  ;

primary
  : (INT | FLOAT | QUANTITY | BAD_NUMBER)                                 # numberLit
  | (TRUE_LIT | FALSE_LIT)                                                         # boolLit
  | NULL_LIT                                                                   # nullLit
  | string                                                                 # stringLit
  | heredoc                                                                # heredocLit
  | name LPAREN (expr (COMMA expr)* COMMA?)? RPAREN                        # callExpr
  | name                                                                   # nameExpr
  | LPAREN expr RPAREN                                                     # parenExpr
  | LBRACK FOR forVars IN expr (IF expr)? COLON expr RBRACK                 # listForExpr
  | LBRACK (expr COMMA?)* RBRACK                                           # listExpr
  | LBRACE FOR forVars IN expr (IF expr)? COLON expr FATARROW expr RBRACE   # mapForExpr
  | object                                                                 # objectExpr
  ;

forVars : name (COMMA name)? ;

string     : QUOTE stringPart* (STR_END | STR_UNTERMINATED) ;
stringPart : STR_TEXT | STR_DOLLAR | DOLLAR_ESC | INTERP_START expr RBRACE ;
heredoc    : HEREDOC_START heredocPart* (HEREDOC_END | STR_UNTERMINATED) ;
heredocPart: HD_TEXT | HD_NL | STR_DOLLAR | DOLLAR_ESC | INTERP_START expr RBRACE ;

// ------------------------------------------------------------ types

typeExpr
@init { NestingGuard guard(this); }
  : typePostfix (PIPE typePostfix)* ;

typePostfix : typePrimary QUESTION? ;

typePrimary
  : IDENT LT typeExpr GT                           # genericType
  | IDENT (DOT anyName)?                           # namedType
  | NULL_LIT                                           # nullType
  | string                                         # literalType
  | LBRACE (recordField COMMA?)* RBRACE            # recordType
  | LPAREN typeExpr RPAREN                         # parenType
  ;

recordField : anyName QUESTION? COLON typeExpr modifier* (ASSIGN expr modifier*)? ;
modifier    : IDENT | SENSITIVE ;
