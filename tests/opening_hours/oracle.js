// The reference reading of OSM opening_hours (opening_hours.js, pinned in package.json), for the
// differential tests: reads {"cases": [{"expr", "instants": [epoch ms …]}]} on stdin, writes one
// answer per case: {"ok": true, "states": [open? …]} or {"ok": false, "error": "…"}. Instants are
// read in the process's time zone (TZ), as a site's local time is.
"use strict";
const OpeningHours = require("opening_hours");

let input = "";
process.stdin.on("data", (chunk) => (input += chunk));
process.stdin.on("end", () => {
  const { cases } = JSON.parse(input);
  const answers = cases.map(({ expr, instants }) => {
    let oh;
    try {
      oh = new OpeningHours(expr, null, { mode: 0, warnings_severity: 4 });
    } catch (err) {
      return { ok: false, error: String(err).split("\n")[0] };
    }
    return { ok: true, states: instants.map((t) => oh.getState(new Date(t))) };
  });
  process.stdout.write(JSON.stringify(answers));
});
