#!/usr/bin/env bash
# metrics_promtool.sh: the metrics exposition passes `promtool check metrics`
# (Prometheus' own parser and linter). test_metrics writes a sample registry
# with every kind of metric when CPC_METRICS_OUT is set: the Prometheus text
# 0.0.4 rendering there, the OpenMetrics 1.0 rendering in "$CPC_METRICS_OUT.om".
# promtool 2.x reads the 0.0.4 format only, so the OpenMetrics text is checked
# here for its framing (promtool would flag its counters: in OpenMetrics the
# family "x" has samples "x_total", which 0.0.4 linting calls untyped).
set -u
CPC=${CPC_BIN:?CPC_BIN is not set}
test_bin=$(dirname "$CPC")/test_metrics
PROMTOOL=${PROMTOOL:-$(command -v promtool || true)}
if [ -z "$PROMTOOL" ]; then
  echo "promtool not found: install the Debian package 'prometheus' (scripts/install-deps)"
  exit 1
fi
[ -x "$test_bin" ] || { echo "FAIL: $test_bin not built"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0

CPC_METRICS_OUT=$tmp/metrics.prom "$test_bin" >"$tmp/test.log" 2>&1 ||
  { echo "FAIL: test_metrics"; cat "$tmp/test.log"; exit 1; }
[ -s "$tmp/metrics.prom" ] || { echo "FAIL: no exposition written"; exit 1; }

for kind in counter gauge histogram; do
  grep -q "^# TYPE [a-z_]* $kind\$" "$tmp/metrics.prom" ||
    { echo "FAIL: the sample has no $kind"; fail=1; }
done
if ! "$PROMTOOL" check metrics <"$tmp/metrics.prom" >"$tmp/lint" 2>&1; then
  echo "FAIL: promtool check metrics:"; cat "$tmp/lint"; fail=1
fi

# promtool must be able to fail here: a counter without help text.
printf '# TYPE bad_total counter\nbad_total 1\n' >"$tmp/bad.prom"
if "$PROMTOOL" check metrics <"$tmp/bad.prom" >/dev/null 2>&1; then
  echo "FAIL: promtool accepted a metric without help"; fail=1
fi

om=$tmp/metrics.prom.om
[ "$(tail -n 1 "$om")" = "# EOF" ] || { echo "FAIL: OpenMetrics text does not end with # EOF"; fail=1; }
[ "$(grep -c '^# EOF$' "$om")" = 1 ] || { echo "FAIL: # EOF not once"; fail=1; }
if grep -q $'\r' "$om"; then echo "FAIL: carriage return in OpenMetrics text"; fail=1; fi
# every line: a descriptor, a sample or EOF
if grep -Ev '^(# (TYPE|HELP|UNIT) [a-zA-Z_:][a-zA-Z0-9_:]* .*|# EOF|[a-zA-Z_:][a-zA-Z0-9_:]*(\{.*\})? [-+0-9.eEInfNa]+)$' "$om"; then
  echo "FAIL: lines above are neither metadata nor samples"; fail=1
fi
# The samples are those of the 0.0.4 text (same values, same order).
diff <(grep -v '^#' "$om") <(grep -v '^#' "$tmp/metrics.prom") ||
  { echo "FAIL: OpenMetrics and 0.0.4 samples differ"; fail=1; }

[ $fail = 0 ] && echo "ok: promtool check metrics passes"
exit $fail
