package engine

// PyString is pyString for the external tests: a Python string literal.
var PyString = pyString
