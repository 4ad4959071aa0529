// Package template parses and renders Octopus Deploy's variable template
// language ("Octostache"), so scripts and config files written for Octopus
// render the same way in pulpo.
//
// Supported: #{Name} (names with dots, spaces and indexes such as
// Octopus.Action[Step 1].Output.Name, nested #{A[#{B}]}, wildcard [*]),
// ##{x} for a literal #{x}, JSON navigation (#{J.Sizes[0].price}),
// filters chained with | and arguments (word, "quoted" or \"quoted\", or a
// nested tag), #{if}/#{elseif}/#{else}/#{unless} with == and !=, #{each}
// over variable groups, JSON and comma-separated values, and #{calc}.
//
// Where Octopus's documentation is silent the behaviour follows Octostache's
// source and tests. The deliberate choices are:
//
//   - A "#{" that starts no well-formed tag stays literal text, as when
//     Octopus substitutes files (which may contain "#{" in JavaScript or
//     Ruby). Structural mistakes are errors instead of being echoed:
//     unclosed or stray #{if}/#{unless}/#{each} and their #{else},
//     unknown filters (Octostache would echo the tag), filters pulpo does
//     not support (Markdown, MarkdownToHtml, null), malformed conditions,
//     #{each} or #{calc}, and reference cycles ("A -> B -> A").
//   - A tag that yields no value (undefined variable, a filter that cannot
//     apply) is left exactly as written in templates and is "" with
//     Options.InValue. Values of referenced variables are always rendered
//     as values, as the documentation describes for composite variables.
//   - A condition whose filters yield nothing echoes the whole block in a
//     template (as Octostache) and counts as "" in a value.
//   - Falsy: undefined, "", "0", and "false" or "no" in any case with
//     surrounding whitespace ignored. Match, StartsWith, EndsWith and
//     Contains give "true"/"false"; Octopus.Template.Each.First/Last give
//     "True"/"False".
//   - A defined variable beats a JSON property; otherwise the longest
//     defined prefix of the name is read as JSON (lenient, as Json.NET).
//     A missing last property or an index past the end gives "". JSON
//     numbers print as .NET doubles ("15.00" is "15"), objects and arrays
//     as compact JSON as Json.NET serializes them.
//   - #{each} over a variable group visits indexes in the order of
//     NameLister.Names (Octostache: definition order; *vars.Values sorts).
//     Comma-separated values are not trimmed, and "" is one empty item.
//   - Numbers and dates are formatted as .NET does for en-US ("$4.30",
//     "5/22/2030"); "local" time is the zone of Options.Now's result.
//   - Regular expressions are Go's RE2: .NET-only syntax (lookaround,
//     backreferences) is reported as an error; .NET's replacement syntax
//     ($1, ${name}, $$, $&) is honoured.
//   - Work is bounded: nesting depth, output size, loop iterations and
//     variable expansion depth are limited, so no input hangs or exhausts
//     the stack.
package template
