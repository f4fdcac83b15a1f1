import assert from "node:assert/strict";
import { parseIni, type RawSection } from "../src/config/ini.ts";
import { formatIssue } from "../src/config/errors.ts";

/** Sections as plain data: name, line, and [key, value, line] triples. */
function shape(sections: readonly RawSection[]) {
  return sections.map((s) => ({
    name: s.name,
    line: s.line,
    entries: s.entries.map((e) => [e.key, e.value, e.line]),
  }));
}

function clean(text: string) {
  const { ini, issues } = parseIni(text, "node.ini");
  assert.deepEqual(issues.map(formatIssue), []);
  return shape(ini.sections);
}

function value(line: string): string | null {
  const { ini, issues } = parseIni(`[s]\n${line}\n`, "node.ini");
  assert.deepEqual(issues.map(formatIssue), []);
  return ini.sections[0].entries[0].value;
}

Deno.test("parseIni() reads sections and entries with their line numbers", () => {
  assert.deepEqual(
    clean("# header comment\n[mod_node]\nname = office\n\n[peer:hub]\nhost=hub.example.com\n"),
    [
      { name: "mod_node", line: 2, entries: [["name", "office", 3]] },
      { name: "peer:hub", line: 5, entries: [["host", "hub.example.com", 6]] },
    ],
  );
});

Deno.test("parseIni() skips comment lines starting with # or ; even when indented", () => {
  assert.deepEqual(clean("; top\n[s]\n  # indented\n\t; tabbed\nk = v\n"), [
    { name: "s", line: 2, entries: [["k", "v", 5]] },
  ]);
});

Deno.test("parseIni() strips an inline comment that follows whitespace", () => {
  assert.equal(value("hub = hub          # route through hub (NAT traversal)"), "hub");
  assert.equal(value("hub = hub\t; tab then semicolon"), "hub");
  assert.equal(value("label = two words  # comment"), "two words");
});

Deno.test("parseIni() keeps # and ; that do not follow whitespace", () => {
  assert.equal(value("key = a#b;c"), "a#b;c");
  assert.equal(value("url = http://x/#frag"), "http://x/#frag");
});

Deno.test("parseIni() treats a value starting with # as a comment, leaving it empty", () => {
  assert.equal(value("federation_key = #secret"), "");
  assert.equal(value("federation_key =;secret"), "");
});

Deno.test("parseIni() trims whitespace around keys and values", () => {
  assert.deepEqual(clean("  [ mod_node ]  \n\t name \t=\t office \t\n"), [
    { name: "mod_node", line: 1, entries: [["name", "office", 2]] },
  ]);
});

Deno.test("parseIni() splits at the first '=' only", () => {
  assert.equal(value("token = a=b=c"), "a=b=c");
});

Deno.test("parseIni() reads an empty value as the empty string", () => {
  assert.equal(value("host ="), "");
  assert.equal(value('host = ""'), "");
});

Deno.test("parseIni() keeps #, ; and spaces inside double quotes", () => {
  assert.equal(value('federation_key = "a#b c;d"'), "a#b c;d");
  assert.equal(value('federation_key = " padded "'), " padded ");
  assert.equal(value('label = "Press # line"   # a real comment'), "Press # line");
  assert.equal(value('label = "x";comment right after the quote'), "x");
});

Deno.test('parseIni() unescapes \\" and \\\\ inside quotes', () => {
  assert.equal(value(String.raw`key = "say \"hi\""`), 'say "hi"');
  assert.equal(value(String.raw`path = "C:\\certs\\a.pem"`), String.raw`C:\certs\a.pem`);
});

Deno.test("parseIni() keeps quotes that do not open the value", () => {
  assert.equal(value('label = Press "A" line'), 'Press "A" line');
});

Deno.test("parseIni() accepts CRLF line endings", () => {
  assert.deepEqual(clean("[mod_node]\r\nname = office\r\nhub = hub   # c\r\n"), [
    { name: "mod_node", line: 1, entries: [["name", "office", 2], ["hub", "hub", 3]] },
  ]);
});

Deno.test("parseIni() accepts lone CR line endings", () => {
  assert.deepEqual(clean("[s]\rk = v\r"), [{ name: "s", line: 1, entries: [["k", "v", 2]] }]);
});

Deno.test("parseIni() ignores a UTF-8 byte order mark", () => {
  assert.deepEqual(clean("\uFEFF[mod_node]\nname = office\n"), [
    { name: "mod_node", line: 1, entries: [["name", "office", 2]] },
  ]);
});

Deno.test("parseIni() accepts a comment after a section header", () => {
  assert.deepEqual(clean("[peer:hub]   # the relay\n"), [
    { name: "peer:hub", line: 1, entries: [] },
  ]);
});

Deno.test("parseIni() keeps duplicate sections and keys for the schema to report", () => {
  assert.deepEqual(clean("[a]\nk = 1\nk = 2\n[a]\n"), [
    { name: "a", line: 1, entries: [["k", "1", 2], ["k", "2", 3]] },
    { name: "a", line: 4, entries: [] },
  ]);
});

Deno.test("parseIni() reports a line that is neither header nor key = value", () => {
  const { issues } = parseIni("[s]\nlisten_port 9090\n", "node.ini");
  assert.deepEqual(issues.map(formatIssue), [
    "node.ini:2: expected '[section]' or 'key = value', but the line starting 'listen_port' has no '='",
  ]);
  assert.equal(issues[0].code, "syntax");
});

Deno.test("parseIni() does not echo the rest of a broken line, which may be a secret", () => {
  const { issues } = parseIni("[s]\nfederation_key s3cr3t-value\n", "node.ini");
  assert.equal(issues.length, 1);
  assert.ok(!issues[0].message.includes("s3cr3t"), issues[0].message);
});

Deno.test("parseIni() reports an unterminated quote and keeps the key with a null value", () => {
  const { ini, issues } = parseIni('[mod_node]\nfederation_key = "abc\n', "node.ini");
  assert.deepEqual(issues.map((i) => [i.code, i.line, i.key]), [["syntax", 2, "federation_key"]]);
  assert.match(issues[0].message, /unterminated quote/);
  assert.deepEqual(shape(ini.sections)[0].entries, [["federation_key", null, 2]]);
});

Deno.test("parseIni() reports a quote left open by a trailing backslash", () => {
  const { issues } = parseIni('[s]\nk = "abc\\\n', "node.ini");
  assert.deepEqual(issues.map((i) => [i.line, i.key]), [[2, "k"]]);
  assert.match(issues[0].message, /unterminated quote/);
});

Deno.test("parseIni() reports an unknown escape inside quotes", () => {
  const { issues } = parseIni('[s]\npath = "C:\\new"\n', "node.ini");
  assert.deepEqual(issues.map((i) => [i.code, i.line, i.key]), [["syntax", 2, "path"]]);
  assert.match(issues[0].message, /unknown escape '\\n'/);
});

Deno.test("parseIni() reports text after a closing quote", () => {
  const { issues } = parseIni('[s]\nkey = "abc"def\n', "node.ini");
  assert.deepEqual(issues.map((i) => [i.code, i.line, i.key]), [["syntax", 2, "key"]]);
  assert.ok(!issues[0].message.includes("def"));
});

Deno.test("parseIni() reports a key outside any section", () => {
  const { ini, issues } = parseIni("name = office\n[mod_node]\n", "node.ini");
  assert.deepEqual(issues.map(formatIssue), [
    "node.ini:1: key 'name' comes before any [section] header; put it under the section it belongs to",
  ]);
  assert.equal(issues[0].key, "name");
  assert.deepEqual(shape(ini.sections), [{ name: "mod_node", line: 2, entries: [] }]);
});

Deno.test("parseIni() reports a missing key before '='", () => {
  const { issues } = parseIni("[s]\n = value\n", "node.ini");
  assert.deepEqual(issues.map(formatIssue), ["node.ini:2: missing key before '='"]);
});

Deno.test("parseIni() reports a header without ']' but still opens the section", () => {
  const { ini, issues } = parseIni("[mod_node\nname = x\n", "node.ini");
  assert.deepEqual(issues.map((i) => [i.code, i.line]), [["syntax", 1]]);
  assert.match(issues[0].message, /missing '\]'/);
  assert.deepEqual(shape(ini.sections), [
    { name: "mod_node", line: 1, entries: [["name", "x", 2]] },
  ]);
});

Deno.test("parseIni() reports text after a section header", () => {
  const { ini, issues } = parseIni("[mod_node] extra\n", "node.ini");
  assert.deepEqual(issues.map(formatIssue), [
    "node.ini:1: unexpected text 'extra' after section header [mod_node]",
  ]);
  assert.equal(ini.sections[0].name, "mod_node");
});

Deno.test("parseIni() reports an empty section name and drops its entries", () => {
  const { ini, issues } = parseIni("[]\nk = v\n[s]\n", "node.ini");
  assert.deepEqual(issues.map(formatIssue), ["node.ini:1: empty section name '[]'"]);
  assert.deepEqual(shape(ini.sections), [{ name: "s", line: 3, entries: [] }]);
});

Deno.test("parseIni() reports every syntax error, not only the first", () => {
  const { issues } = parseIni('orphan = 1\n[s]\nbroken\nk = "open\n[t\n', "node.ini");
  assert.deepEqual(issues.map((i) => i.line), [1, 3, 4, 5]);
});
