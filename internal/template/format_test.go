package template

import "testing"

// Format follows .NET's ToString with the en-US culture (variable-filters.md
// shows "$4.30"). Local time is fixedNow's zone, +02:00.
func TestFormatNumbers(t *testing.T) {
	runFilterCases(t, []filterCase{
		// variable-filters.md and FiltersFixture Format tests
		{"4.3", "Format C", "$4.30"},
		{"23.4", "Format Double C", "$23.40"},
		{"23.4", "Format C", "$23.40"},
		{"hello World", "Format yyyy", echo("Format yyyy")},
		// standard numeric formats
		{"-1234.5", "Format C", "-$1,234.50"},
		{"1234.5", "Format C0", "$1,235"},
		{"1234567.891", "Format N0", "1,234,568"},
		{"1234.5", "Format N", "1,234.50"},
		{"3.14159", "Format F3", "3.142"},
		{"2.5", "Format F0", "3"},
		{"-2.5", "Format F0", "-3"},
		{"-0.001", "Format F2", "0.00"},
		{"0.1234", "Format P", "12.34%"},
		{"0.5", "Format P0", "50%"},
		{"12345.6789", "Format E", "1.234568E+004"},
		{"12345.6789", "Format e2", "1.23e+004"},
		{"0", "Format E2", "0.00E+000"},
		{"0.00012", "Format E1", "1.2E-004"},
		{"42", "Format Int32 D5", "00042"},
		{"-42", "Format Int D5", "-00042"},
		{"255", "Format Int X", "FF"},
		{"255", "Format Int x4", "00ff"},
		{"-1", "Format Int X", "FFFFFFFF"},
		{"23.40", "Format G", "23.40"},
		{"23.40", "Format Double G", "23.4"},
		{"1e20", "Format Double G", "1E+20"},
		{"1,234.5", "Format Double F1", "1234.5"},
		{"123456789", "Format Double G3", "1.23E+08"},
		{"0.0001234", "Format Double G2", "0.00012"},
		{"3.14159", "Format Double R", "3.14159"},
		{"1.5", "Format Decimal N1", "1.5"},
		{" -7 ", "Format Int D", "-7"},
		{"3.5", "Format D", echo("Format D")},         // D is for integers only
		{"3.5", "Format Int D", echo("Format Int D")}, // not an integer
		{"1.5", "Format Q", echo("Format Q")},         // no such format
		{"1.5", "Format Foo 0", echo("Format Foo 0")},
		{"1.5", "Format", echo("Format")},
		{"1e20", "Format N", echo("Format N")}, // decimals have no exponent
		// custom numeric formats
		{"3.14159", `Format "0.00"`, "3.14"},
		{"1234567.891", `Format \"#,##0.00\"`, "1,234,567.89"},
		{"123", "Format 00000", "00123"},
		{"0.5", `Format \"#.##\"`, ".5"},
		{"2.5", `Format \"0.###\"`, "2.5"},
		{"2", `Format \"0.0##\"`, "2.0"},
		{"0.256", `Format "0%"`, "26%"},
		{"1234567", `Format \"#,##0,K\"`, "1,235K"},
		{"5551234567", `Format Decimal \"(###) ###-####\"`, "(555) 123-4567"},
		{"-1.5", `Format "0.0;(0.0);zero"`, "(1.5)"},
		{"0", `Format "0.0;(0.0);zero"`, "zero"},
		{"2", `Format "0.0;(0.0);zero"`, "2.0"},
		{"12345", `Format "0.00E+00"`, "1.23E+04"},
		{"0.000123", `Format "0.0e0"`, "1.2e-4"},
		{"-1.234", `Format "0.00"`, "-1.23"},
		{"-0.001", `Format "0.00"`, "0.00"},
		{"1234.5", `Format \"#\"`, "1235"},
		{"0", `Format \"#\"`, ""},
		// "..." may not contain "#" (Octostache's grammar), so the tag stays text.
		{"1.5", `Format "0.#"`, echo(`Format "0.#"`)},
		{"1.5", `Format "'Value: '0.0"`, "Value: 1.5"},
		{"7", `Format "0 items"`, "7 items"},
		// "2030" reads as a decimal first, and "yyyy" has no digit placeholders.
		{"2030", "Format yyyy", "yyyy"},
	})
}

func TestFormatDates(t *testing.T) {
	const when = "2030-05-22T09:05:00"
	runFilterCases(t, []filterCase{
		// FiltersFixture date tests and variable-filters.md
		{"2030/05/22 09:05:00", `Format Date "HH dd-MMM-yyy"`, "09 22-May-2030"},
		{"2030/05/22 09:05:00", `Format DateTime "HH dd-MMM-yyyy" `, "09 22-May-2030"},
		{"2030/05/22 09:05:00", `Format DateTime \"HH dd-MMM-yyyy\" `, "09 22-May-2030"},
		{"2030/05/22 09:05:00", "Format yyyy", "2030"},
		{"2020-01-01T11:09:38+01:00", `Format "MM/dd/yyyy"`, "01/01/2020"},
		{"2020-01-01T11:09:38+01:00", `Format "hh:mm:ss tt zz"`, "11:09:38 AM +01"},
		// standard date formats
		{when, "Format DateTime d", "5/22/2030"},
		{when, "Format DateTime D", "Wednesday, May 22, 2030"},
		{when, "Format DateTime f", "Wednesday, May 22, 2030 9:05 AM"},
		{when, "Format DateTime F", "Wednesday, May 22, 2030 9:05:00 AM"},
		{when, "Format DateTime g", "5/22/2030 9:05 AM"},
		{when, "Format DateTime G", "5/22/2030 9:05:00 AM"},
		{when, "Format DateTime M", "May 22"},
		{when, "Format DateTime O", "2030-05-22T09:05:00.0000000"},
		{when, "Format DateTime s", "2030-05-22T09:05:00"},
		{when, "Format DateTime t", "9:05 AM"},
		{when, "Format DateTime T", "9:05:00 AM"},
		{when, "Format DateTime Y", "May 2030"},
		{when, "Format DateTime u", "2030-05-22 09:05:00Z"},
		{when, "Format DateTime R", "Wed, 22 May 2030 09:05:00 GMT"},
		{when, "Format DateTime K", echo("Format DateTime K")}, // not a standard format
		{when, "Format DateTimeOffset O", "2030-05-22T09:05:00.0000000+02:00"},
		{when, "Format DateTimeOffset R", "Wed, 22 May 2030 07:05:00 GMT"},
		{when, "Format DateTimeOffset u", "2030-05-22 07:05:00Z"},
		{when, "Format DateTimeOffset zzz", "+02:00"},
		{when, `Format DateTimeOffset "%z"`, "+2"},
		{when, `Format DateTime "HH:mm K"`, "09:05 "},
		{when + "Z", "Format DateTime HH", "11"}, // converted to local time
		{when + "Z", `Format DateTime "HH K"`, "11 +02:00"},
		{when + "Z", `Format DateTimeOffset "HH zzz"`, "09 +00:00"},
		// custom date formats
		{"2030-05-22T13:07:08.1234567", `Format DateTime "h:mm:ss tt"`, "1:07:08 PM"},
		{"2030-05-22T13:07:08.1234567", "Format DateTime hh", "01"},
		{"2030-05-22T13:07:08.1234567", `Format DateTime "%H"`, "13"},
		{"2030-05-22T13:07:08.1234567", `Format DateTime "ss.fff"`, "08.123"},
		{"2030-05-22T13:07:08.1234567", "Format DateTime FFFFFFF", "1234567"},
		{"2030-05-22T13:07:08", `Format DateTime "ss.FFF"`, "08"},
		{"2030-05-22T13:07:08", "Format DateTime fffffffff", echo("Format DateTime fffffffff")},
		{"2030-05-22T13:07:08", "Format DateTime yy", "30"},
		{"2030-05-22T13:07:08", "Format DateTime yyyyy", "02030"},
		{"2030-05-22T13:07:08", `Format DateTime "%y"`, "30"},
		{"2030-05-22T13:07:08", `Format DateTime "%d"`, "22"},
		{"2030-05-22T13:07:08", "Format DateTime ddd", "Wed"},
		{"2030-05-22T13:07:08", "Format DateTime dddd", "Wednesday"},
		{"2030-05-22T13:07:08", "Format DateTime MMMM", "May"},
		{"2030-05-22T13:07:08", `Format DateTime "'Year' yyyy"`, "Year 2030"},
		{"2030-05-22T13:07:08", `Format DateTime "\y yyyy"`, "y 2030"},
		{"2030-05-22T13:07:08", `Format DateTime "gg yyyy"`, "A.D. 2030"},
		{"2030-05-22T13:07:08", `Format DateTime "%"`, echo(`Format DateTime "%"`)},
		// date forms the parser reads
		{"May 22, 2030", `Format DateTime "yyyy-MM-dd HH:mm"`, "2030-05-22 00:00"},
		{"22 May 2030 14:30", `Format DateTime "yyyy-MM-dd HH:mm"`, "2030-05-22 14:30"},
		{"5/22/2030 2:30 PM", `Format DateTime "yyyy-MM-dd HH:mm"`, "2030-05-22 14:30"},
		{"Wednesday, May 22, 2030 9:05:00 AM", `Format DateTime "yyyy-MM-dd HH:mm"`, "2030-05-22 09:05"},
		{"Wed, 22 May 2030 07:05:00 GMT", `Format DateTime "yyyy-MM-dd HH:mm"`, "2030-05-22 09:05"},
		{"2030-05-22T09:05:00.5+05:30", `Format DateTime "yyyy-MM-dd HH:mm"`, "2030-05-22 05:35"},
		{"13:45", `Format DateTime "yyyy-MM-dd HH:mm"`, "2030-05-22 13:45"},
		{"2030/5/2", `Format DateTime "yyyy-MM-dd HH:mm"`, "2030-05-02 00:00"},
		{"12/31/99", "Format DateTime yyyy", "1999"},
		{"2/30/2030", "Format DateTime yyyy", echo("Format DateTime yyyy")},
		{"30 Foo 2030", "Format DateTime yyyy", echo("Format DateTime yyyy")},
	})
}
