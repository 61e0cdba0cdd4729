"""End to end `sluice doctor ip`, `doctor domain` and `doctor warmup` (issue 6) against a real
local Knot serving test zones: reverse DNS for 127.0.1.x and ::1 (PTR ok with FCrDNS, PTR
mismatch, generic names, several PTRs, none), HELO checks, DNSBL zones served here (a
listing with its TXT, error answers 127.255.255.254, a zone answering outside 127/8, a zone
that lists everything, a zone without its test point) and the curated list unreachable;
SPF (pass through include chains and redirect, fail, softfail, neutral, too many lookups,
void lookups, several records, syntax errors, ptr), DKIM keys made here with openssl
(match, mismatch, 1024-bit, ed25519, revoked, testing), DMARC (none, quarantine, reject,
inherited from the organizational domain, missing, malformed, external report address),
MX (null, missing, unresolvable) and MTA-STS/TLS-RPT present, absent and malformed; and the
warm-up schedule.  Every check is read back from the --json output (schema
sluice-doctor/1); exit codes 0/1/2/64 are checked too."""
import base64
import json
import os
import shutil
import subprocess
import tempfile
import unittest

import sluicetest as st
from knot import Knot

SLUICE = st.SLUICE


def openssl(*args, data=None):
    return subprocess.run(["openssl", *args], input=data, check=True, capture_output=True).stdout


def make_key(path, kind):
    """A private key in PEM at path; returns the p= value of its DKIM record."""
    if kind == "ed25519":
        openssl("genpkey", "-algorithm", "ed25519", "-out", path)
    else:
        openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", f"rsa_keygen_bits:{kind}", "-out", path)
    der = openssl("pkey", "-in", path, "-pubout", "-outform", "DER")
    return base64.b64encode(der[-32:] if kind == "ed25519" else der).decode()


def txt(value):
    """A TXT record's data, split into strings of at most 200 bytes."""
    return " ".join('"%s"' % value[i:i + 200] for i in range(0, len(value), 200)) or '""'


NIBBLES_ONE = "1." + "0." * 31   # ::1 in RFC 5782 / ip6.arpa order (before the zone name)


def zones(keys):
    good = "\n".join([
        "@ MX 10 mail", "mail A 127.0.1.10", "mail6 AAAA ::1", "sub MX 10 mail",
        "@ TXT " + txt("v=spf1 ip4:127.0.1.10 include:_spf.good.test -all"),
        "_spf TXT " + txt("v=spf1 ip4:127.0.2.0/24 ~all"),
        "sub TXT " + txt("v=spf1 redirect=good.test"),
        "s1._domainkey TXT " + txt("v=DKIM1; k=rsa; p=" + keys["s1"]),
        "weak._domainkey TXT " + txt("v=DKIM1; k=rsa; p=" + keys["weak"]),
        "ed._domainkey TXT " + txt("v=DKIM1; k=ed25519; p=" + keys["ed"]),
        "revoked._domainkey TXT " + txt("v=DKIM1; k=rsa; p="),
        "testing._domainkey TXT " + txt("v=DKIM1; t=y; p=" + keys["s1"]),
        "_dmarc TXT " + txt("v=DMARC1; p=reject; rua=mailto:dmarc@good.test"),
        "_mta-sts TXT " + txt("v=STSv1; id=20261128T000000"),
        "_smtp._tls TXT " + txt("v=TLSRPTv1; rua=mailto:tlsrpt@good.test"),
    ]) + "\n"
    many = " ".join(f"include:i{i}.many.test" for i in range(1, 12))
    return {
        "127.in-addr.arpa": "\n".join([
            "10.1.0 PTR mail.good.test.",
            "11.1.0 PTR mail.bad.test.",
            "12.1.0 PTR 12-1-0-127.dsl.isp.test.",
            "14.1.0 PTR a.multi.test.", "14.1.0 PTR b.multi.test.",
            "15.1.0 PTR dynamic-pool.isp.test.",
        ]) + "\n",
        "0." * 31 + "ip6.arpa": "1 PTR mail6.good.test.\n",
        "good.test": good,
        "bad.test": "mail A 127.0.1.99\n",
        "isp.test": "12-1-0-127.dsl A 127.0.1.12\ndynamic-pool A 127.0.1.15\n",
        "multi.test": "a A 127.0.1.14\nb A 127.0.9.9\n",
        "soft.test": "@ MX 10 mail.good.test.\n@ TXT " + txt("v=spf1 ip4:127.0.1.10 ~all")
                     + "\n_dmarc TXT " + txt("v=DMARC1; p=none") + "\n",
        "quarantine.test": "@ MX 10 mail.good.test.\n@ TXT " + txt("v=spf1 ?all")
                           + "\n_dmarc TXT " + txt("v=DMARC1; p=quarantine; pct=50; rua=mailto:agg@reports.test") + "\n"
                           + "_smtp._tls TXT " + txt("v=TLSRPTv1; rua=tlsrpt@quarantine.test") + "\n"
                           + "_mta-sts TXT " + txt("v=STSv1; id=not-valid!") + "\n",
        "reports.test": "@ MX 10 mail.good.test.\n",
        "chain.test": "@ MX 10 mail.good.test.\n@ TXT " + txt("v=spf1 include:a.chain.test -all") + "\n"
                      + "a TXT " + txt("v=spf1 include:b.chain.test -all") + "\n"
                      + "b TXT " + txt("v=spf1 ip4:127.0.3.0/24 -all") + "\n",
        "redir.test": "@ MX 10 mail.good.test.\n@ TXT " + txt("v=spf1 redirect=good.test") + "\n",
        "many.test": "@ MX 10 mail.good.test.\n@ TXT " + txt(f"v=spf1 {many} -all") + "\n"
                     + "".join(f"i{i} TXT " + txt("v=spf1 -all") + "\n" for i in range(1, 12)),
        "void.test": "@ MX 10 mail.good.test.\n@ TXT " + txt("v=spf1 a:n1.void.test a:n2.void.test a:n3.void.test -all") + "\n",
        "ptr.test": "@ MX 10 mail.good.test.\n@ TXT " + txt("v=spf1 ptr:good.test -all") + "\n",
        "two.test": "@ MX 10 mail.good.test.\n@ TXT " + txt("v=spf1 -all") + "\n@ TXT " + txt("v=spf1 +all") + "\n",
        "syntax.test": "@ MX 10 mail.good.test.\n@ TXT " + txt("v=spf1 ip4:127.0.1.300 -all") + "\n",
        "nodmarc.test": "@ MX 10 mail.good.test.\n@ TXT " + txt("v=spf1 -all") + "\n",
        "baddmarc.test": "@ MX 10 mail.good.test.\n_dmarc TXT " + txt("v=DMARC1; p=block") + "\n",
        "lookalike.test": "@ MX 10 mail.good.test.\n_dmarc TXT " + txt("v=dmarc1; p=reject") + "\n",
        "nullmx.test": "@ MX 0 .\n@ TXT " + txt("v=spf1 -all") + "\n",
        "nomx.test": "@ A 127.0.1.10\n",
        "badmx.test": "@ MX 10 nowhere.badmx.test.\n",
        # DNSBLs served here
        "dnsbl.test": "2.0.0.127 A 127.0.0.2\n11.1.0.127 A 127.0.0.2\n11.1.0.127 A 127.0.0.10\n"
                      + '11.1.0.127 TXT "listed for testing: http://dnsbl.test/11"\n'
                      + NIBBLES_ONE.rstrip(".") + " A 127.0.0.3\n",
        "err.test": "* A 127.255.255.254\n",
        "errsub.test": "2.0.0.127 A 127.0.0.2\n10.1.0.127 A 127.255.255.255\n",
        "wild.test": "* A 198.51.100.7\n",
        "gone.test": "www A 127.0.0.1\n",
    }


class DoctorDns(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="sluice-e2e-doctor-")
        cls.key = {}
        keys = {}
        for name, kind in (("s1", "2048"), ("other", "2048"), ("weak", "1024"), ("ed", "ed25519")):
            cls.key[name] = os.path.join(cls.tmp, name + ".pem")
            keys[name] = make_key(cls.key[name], kind)
        cls.knot = Knot(zones(keys))

    @classmethod
    def tearDownClass(cls):
        cls.knot.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def run_doctor(self, *args, json_out=True, pre=()):
        argv = [SLUICE, *pre, "doctor", "--dns-server", self.knot.server, "--timeout", "3", *args]
        if json_out:
            argv.append("--json")
        p = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        if not json_out:
            return p.returncode, p.stdout, p.stderr
        try:
            j = json.loads(p.stdout)
        except ValueError:
            self.fail(f"{args}: no JSON (rc {p.returncode}): {p.stdout!r} {p.stderr!r}")
        self.assertEqual(j["schema"], "sluice-doctor/1")
        return p.returncode, j

    def checks(self, j):
        """id -> the check (the first of that id)"""
        out = {}
        for c in j["checks"]:
            out.setdefault(c["id"], c)
        return out

    def expect(self, j, **want):
        """want: check id (with _ for -) -> status"""
        got = self.checks(j)
        for cid, status in want.items():
            cid = cid.replace("_", "-").replace("dnsbl-", "dnsbl:")
            self.assertIn(cid, got, f"no check {cid} in {sorted(got)}")
            self.assertEqual(got[cid]["status"], status, f"{cid}: {got[cid]}")
        return got

    # ---- doctor ip ----

    def test_ip_good(self):
        rc, j = self.run_doctor("ip", "127.0.1.10", "--helo", "mail.good.test", "--dnsbl", "dnsbl.test")
        self.expect(j, ptr="pass", fcrdns="pass", ptr_generic="pass", helo_fqdn="pass", helo_ptr="pass",
                    helo_resolves="pass", **{"dnsbl-dnsbl.test": "pass"})
        self.assertEqual(rc, 0)
        self.assertEqual(j["data"]["ptr"], ["mail.good.test"])
        self.assertTrue(j["data"]["fcrdns"])
        self.assertEqual(j["data"]["dnsbl"]["zones"][0]["verdict"], "clear")

    def test_ip_mismatch_and_listed(self):
        rc, j = self.run_doctor("ip", "127.0.1.11", "--helo", "mail.bad.test", "--dnsbl", "dnsbl.test")
        got = self.expect(j, ptr="pass", fcrdns="fail", helo_ptr="pass", helo_resolves="warn",
                          **{"dnsbl-dnsbl.test": "fail"})
        self.assertEqual(rc, 2)
        self.assertIn("mail.bad.test -> 127.0.1.99", got["fcrdns"]["evidence"])
        listed = got["dnsbl:dnsbl.test"]
        self.assertEqual(listed["actual"], "listed")
        self.assertIn("127.0.0.10", listed["explanation"])
        self.assertEqual(listed["evidence"], ["listed for testing: http://dnsbl.test/11"])

    def test_ip_generic_digits(self):
        rc, j = self.run_doctor("ip", "127.0.1.12", "--dnsbl", "none")
        got = self.expect(j, ptr="pass", fcrdns="pass", ptr_generic="warn", helo="info", dnsbl="info")
        self.assertIn("digits", got["ptr-generic"]["explanation"])
        self.assertEqual(rc, 1)

    def test_ip_generic_words(self):
        rc, j = self.run_doctor("ip", "127.0.1.15", "--dnsbl", "none")
        got = self.expect(j, ptr_generic="warn")
        self.assertIn('"dynamic"', got["ptr-generic"]["explanation"])
        self.assertEqual(rc, 1)

    def test_ip_no_ptr(self):
        rc, j = self.run_doctor("ip", "127.0.1.13", "--helo", "mail.good.test", "--dnsbl", "none")
        got = self.expect(j, ptr="fail", helo_ptr="warn", helo_resolves="warn")
        self.assertNotIn("fcrdns", got)
        self.assertEqual(rc, 2)

    def test_ip_several_ptrs(self):
        rc, j = self.run_doctor("ip", "127.0.1.14", "--dnsbl", "none")
        got = self.expect(j, ptr="warn", fcrdns="pass")
        self.assertEqual(got["fcrdns"]["actual"], "a.multi.test")
        self.assertEqual(sorted(j["data"]["ptr"]), ["a.multi.test", "b.multi.test"])
        self.assertEqual(len(got["fcrdns"]["evidence"]), 2)

    def test_ip_helo_bad(self):
        rc, j = self.run_doctor("ip", "127.0.1.10", "--helo", "localhost", "--dnsbl", "none")
        got = self.expect(j, helo_fqdn="fail")
        self.assertNotIn("helo-ptr", got)
        self.assertEqual(rc, 2)

    def test_ip_helo_from_config(self):
        rc, j = self.run_doctor("ip", "127.0.1.10", "--dnsbl", "none", pre=("-o", "smtp_helo_name=mail.good.test"))
        got = self.expect(j, helo_fqdn="pass", helo_ptr="pass", helo_resolves="pass")
        self.assertIn("smtp_helo_name", got["helo-fqdn"]["explanation"])
        self.assertEqual(rc, 0)

    def test_ip_dnsbl_unknown_answers(self):
        rc, j = self.run_doctor("ip", "127.0.1.10", "--dnsbl", "err.test,errsub.test,wild.test,gone.test")
        got = self.expect(j, **{"dnsbl-err.test": "warn", "dnsbl-errsub.test": "warn", "dnsbl-wild.test": "warn",
                                "dnsbl-gone.test": "info"})
        for z in j["data"]["dnsbl"]["zones"]:
            self.assertEqual(z["verdict"], "unknown", z)
        self.assertIn("127.255.255.254", got["dnsbl:err.test"]["explanation"])
        self.assertIn("self-test", got["dnsbl:err.test"]["explanation"])
        self.assertIn("127.255.255.255", got["dnsbl:errsub.test"]["explanation"])
        self.assertIn("outside 127.0.0.0/8", got["dnsbl:wild.test"]["explanation"])
        self.assertIn("test point 127.0.0.2 is not listed", got["dnsbl:gone.test"]["explanation"])
        self.assertEqual(rc, 1)

    def test_ip_v6(self):
        rc, j = self.run_doctor("ip", "::1", "--helo", "mail6.good.test", "--dnsbl", "dnsbl.test")
        got = self.expect(j, ptr="pass", fcrdns="pass", helo_resolves="pass", **{"dnsbl-dnsbl.test": "fail"})
        self.assertEqual(got["ptr"]["actual"], "mail6.good.test")
        zone = j["data"]["dnsbl"]["zones"][0]
        self.assertEqual(zone["query"], NIBBLES_ONE + "dnsbl.test")
        self.assertIn("127.0.0.3", zone["why"])
        self.assertEqual(rc, 2)

    def test_ip_curated_list_unreachable(self):
        rc, j = self.run_doctor("ip", "127.0.1.10", "--helo", "mail.good.test")
        dnsbl = j["data"]["dnsbl"]
        self.assertRegex(dnsbl["list"], r"^\d{4}-\d{2}$")
        zones = [z["zone"] for z in dnsbl["zones"]]
        self.assertIn("zen.spamhaus.org", zones)
        self.assertFalse([z for z in zones if "sorbs" in z])
        for z in dnsbl["zones"]:        # Knot refuses them: unknown, never listed
            self.assertEqual(z["verdict"], "unknown", z)
        self.assertEqual(rc, 0)

    def test_ip_usage(self):
        self.assertEqual(self.run_doctor("ip", "mail.good.test", json_out=False)[0], 64)
        self.assertEqual(self.run_doctor("ip", json_out=False)[0], 64)
        self.assertEqual(self.run_doctor("ip", "127.0.0.1", "--dnsbl", "bad_zone", json_out=False)[0], 64)

    def test_ip_text(self):
        rc, out, _ = self.run_doctor("ip", "127.0.1.11", "--helo", "mail.bad.test", "--dnsbl", "dnsbl.test",
                                     json_out=False)
        self.assertEqual(rc, 2)
        self.assertIn("FAIL  forward-confirmed reverse DNS: expected a PTR name resolving to 127.0.1.11, got", out)
        self.assertIn("> listed for testing: http://dnsbl.test/11", out)
        self.assertIn("FAIL: sluice doctor ip 127.0.1.11", out)

    # ---- doctor domain ----

    def test_domain_good(self):
        rc, j = self.run_doctor("domain", "good.test", "--ip", "127.0.1.10", "--selector", "s1",
                                "--dkim-key", self.key["s1"])
        got = self.expect(j, mx="pass", mx_hosts="pass", spf_record="pass", spf_syntax="pass", spf_all="pass",
                          spf_lookups="pass", spf_voids="pass", spf_result="pass", dkim_record="pass", dkim_key="pass",
                          dkim_match="pass", dmarc_record="pass", dmarc_policy="pass", dmarc_rua="pass",
                          dmarc_alignment="pass", mta_sts="pass", tls_rpt="pass")
        self.assertEqual(rc, 0, json.dumps(j, indent=1))
        self.assertIn("matched ip4:127.0.1.10 in good.test", got["spf-result"]["actual"])
        self.assertEqual(j["data"]["dkim"], {"selector": "s1", "type": "rsa", "bits": 2048})
        self.assertIn("not fetched", got["mta-sts"]["explanation"])
        self.assertEqual(j["data"]["spf_walk"]["lookups"], 1)

    def test_domain_spf_include_pass_and_fail(self):
        rc, j = self.run_doctor("domain", "good.test", "--ip", "127.0.2.7")
        got = self.expect(j, spf_result="pass", dkim="info")
        self.assertEqual(j["data"]["spf"]["matched"], "include:_spf.good.test > ip4:127.0.2.0/24")
        rc, j = self.run_doctor("domain", "good.test", "--ip", "127.0.9.9")
        got = self.expect(j, spf_result="fail", dmarc_alignment="fail")
        self.assertEqual(j["data"]["spf"]["matched"], "-all")
        self.assertIn("rejected", got["dmarc-alignment"]["explanation"])
        self.assertEqual(rc, 2)

    def test_domain_spf_chain(self):
        rc, j = self.run_doctor("domain", "chain.test", "--ip", "127.0.3.3")
        self.expect(j, spf_result="pass", spf_lookups="pass")
        self.assertEqual(j["data"]["spf"]["matched"], "include:a.chain.test > include:b.chain.test > ip4:127.0.3.0/24")
        self.assertEqual(j["data"]["spf"]["matched_domain"], "b.chain.test")

    def test_domain_spf_redirect(self):
        rc, j = self.run_doctor("domain", "redir.test", "--ip", "127.0.1.10")
        self.expect(j, spf_all="info", spf_result="pass")
        self.assertEqual(j["data"]["spf"]["matched_domain"], "good.test")
        rc, j = self.run_doctor("domain", "redir.test", "--ip", "127.0.2.9")
        self.expect(j, spf_result="pass")
        rc, j = self.run_doctor("domain", "redir.test", "--ip", "127.0.8.1")
        self.expect(j, spf_result="fail")

    def test_domain_spf_softfail_neutral(self):
        rc, j = self.run_doctor("domain", "soft.test", "--ip", "127.0.9.9")
        self.expect(j, spf_result="warn", spf_all="pass", dmarc_policy="warn", dmarc_rua="info",
                    mta_sts="info", tls_rpt="info", dmarc_alignment="warn")
        self.assertEqual(j["data"]["spf"]["result"], "softfail")
        rc, j = self.run_doctor("domain", "quarantine.test", "--ip", "127.0.9.9")
        self.expect(j, spf_all="warn", spf_result="warn")
        self.assertEqual(j["data"]["spf"]["result"], "neutral")

    def test_domain_spf_too_many_lookups(self):
        rc, j = self.run_doctor("domain", "many.test", "--ip", "127.0.1.10")
        got = self.expect(j, spf_lookups="fail", spf_result="fail")
        self.assertEqual(got["spf-lookups"]["actual"], "11")
        self.assertEqual(j["data"]["spf"]["result"], "permerror")
        self.assertIn("more than 10", j["data"]["spf"]["reason"])
        self.assertEqual(rc, 2)

    def test_domain_spf_void_lookups(self):
        rc, j = self.run_doctor("domain", "void.test", "--ip", "127.0.1.10")
        got = self.expect(j, spf_voids="fail", spf_result="fail")
        self.assertEqual(got["spf-voids"]["actual"], "3")
        self.assertIn("void", j["data"]["spf"]["reason"])

    def test_domain_spf_broken_records(self):
        rc, j = self.run_doctor("domain", "two.test")
        got = self.expect(j, spf_record="fail")
        self.assertEqual(got["spf-record"]["actual"], "2 records")
        self.assertNotIn("spf-result", got)
        rc, j = self.run_doctor("domain", "syntax.test")
        got = self.expect(j, spf_syntax="fail")
        self.assertIn("127.0.1.300", got["spf-syntax"]["actual"])
        rc, j = self.run_doctor("domain", "baddmarc.test")
        self.expect(j, spf_record="fail")
        rc, j = self.run_doctor("domain", "ptr.test", "--ip", "127.0.1.10")
        self.expect(j, spf_ptr="warn", spf_result="pass")

    def test_domain_dkim_from_config(self):
        # without --selector the daemon's own dkim_signing_keys entry for the domain is checked
        pre = ("-o", f"dkim_signing_keys=good.test s1 {self.key['s1']}, other.test s9 /nonexistent.pem")
        rc, j = self.run_doctor("domain", "good.test", pre=pre)
        self.expect(j, dkim_record="pass", dkim_key="pass", dkim_match="pass")
        self.assertEqual(j["data"]["dkim"]["selector"], "s1")
        pre = ("-o", f"dkim_signing_keys=good.test s1 {self.key['other']}")
        rc, j = self.run_doctor("domain", "good.test", pre=pre)
        got = self.expect(j, dkim_match="fail")
        self.assertEqual(got["dkim-match"]["actual"], "a different key")
        # --selector still wins, and a domain without a key entry gets the usual advice
        rc, j = self.run_doctor("domain", "good.test", "--selector", "ed", "--dkim-key", self.key["ed"], pre=pre)
        self.expect(j, dkim_match="pass")
        rc, j = self.run_doctor("domain", "good.test", pre=("-o", f"dkim_signing_keys=else.test s1 {self.key['s1']}"))
        self.expect(j, dkim="info")

    def test_domain_dkim_variants(self):
        rc, j = self.run_doctor("domain", "good.test", "--selector", "s1", "--dkim-key", self.key["other"])
        got = self.expect(j, dkim_key="pass", dkim_match="fail")
        self.assertEqual(got["dkim-match"]["actual"], "a different key")
        self.assertEqual(rc, 2)
        rc, j = self.run_doctor("domain", "good.test", "--selector", "weak", "--dkim-key", self.key["weak"])
        got = self.expect(j, dkim_key="warn", dkim_match="pass")
        self.assertEqual(got["dkim-key"]["actual"], "rsa 1024 bits")
        rc, j = self.run_doctor("domain", "good.test", "--selector", "ed", "--dkim-key", self.key["ed"])
        got = self.expect(j, dkim_key="pass", dkim_match="pass")
        self.assertTrue(got["dkim-key"]["actual"].startswith("ed25519"))
        rc, j = self.run_doctor("domain", "good.test", "--selector", "revoked")
        got = self.expect(j, dkim_record="pass", dkim_key="fail")
        self.assertIn("revoked", got["dkim-key"]["actual"])
        rc, j = self.run_doctor("domain", "good.test", "--selector", "testing", "--dkim-key", self.key["s1"])
        self.expect(j, dkim_testing="warn", dkim_match="pass")
        rc, j = self.run_doctor("domain", "good.test", "--selector", "missing")
        self.expect(j, dkim_record="fail")

    def test_domain_dkim_aligns_without_spf(self):
        rc, j = self.run_doctor("domain", "good.test", "--ip", "127.0.9.9", "--selector", "s1",
                                "--dkim-key", self.key["s1"])
        got = self.expect(j, spf_result="fail", dmarc_alignment="pass")
        self.assertEqual(got["dmarc-alignment"]["actual"], "DKIM")

    def test_domain_dmarc_variants(self):
        rc, j = self.run_doctor("domain", "quarantine.test")
        got = self.expect(j, dmarc_record="pass", dmarc_policy="pass", dmarc_pct="info", dmarc_rua_auth="warn",
                          tls_rpt="fail", mta_sts="fail")
        self.assertEqual(got["dmarc-policy"]["actual"], "quarantine")
        self.assertIn("quarantine.test._report._dmarc.reports.test", got["dmarc-rua-auth"]["expected"])
        rc, j = self.run_doctor("domain", "nodmarc.test")
        got = self.expect(j, dmarc_record="fail")
        self.assertEqual(got["dmarc-record"]["actual"], "none")
        rc, j = self.run_doctor("domain", "baddmarc.test")
        got = self.expect(j, dmarc_syntax="fail")
        self.assertIn("p=block", got["dmarc-syntax"]["actual"])
        rc, j = self.run_doctor("domain", "lookalike.test")
        got = self.expect(j, dmarc_record="fail")
        self.assertEqual(got["dmarc-record"]["actual"], "v=dmarc1; p=reject")

    def test_domain_dmarc_inherited(self):
        rc, j = self.run_doctor("domain", "sub.good.test", "--ip", "127.0.1.10")
        got = self.expect(j, dmarc_record="pass", dmarc_policy="pass", spf_result="pass")
        self.assertTrue(j["data"]["dmarc"]["inherited"])
        self.assertEqual(j["data"]["dmarc"]["where"], "_dmarc.good.test")
        self.assertIn("organizational domain", got["dmarc-record"]["explanation"])

    def test_domain_mx_variants(self):
        rc, j = self.run_doctor("domain", "nullmx.test")
        self.expect(j, mx="warn")
        rc, j = self.run_doctor("domain", "nomx.test")
        self.expect(j, mx="warn")
        rc, j = self.run_doctor("domain", "badmx.test")
        got = self.expect(j, mx="pass", mx_hosts="fail")
        self.assertTrue(got["mx-hosts"]["evidence"][0].startswith("MX 10 nowhere.badmx.test -> "))
        rc, j = self.run_doctor("domain", "nothere.nomx.test")
        self.expect(j, mx="fail", spf_record="fail", dmarc_record="fail")

    def test_domain_usage(self):
        self.assertEqual(self.run_doctor("domain", json_out=False)[0], 64)
        self.assertEqual(self.run_doctor("domain", "good.test", "--ip", "nope", json_out=False)[0], 64)
        self.assertEqual(self.run_doctor("domain", "good.test", "--dkim-key", "/x.pem", json_out=False)[0], 64)
        self.assertEqual(self.run_doctor("domain", "not a domain", json_out=False)[0], 64)

    # ---- doctor warmup ----

    def test_warmup(self):
        rc, j = self.run_doctor("warmup", "--target", "3000", "--from", "2026-01-05")
        self.assertEqual(rc, 0)
        w = j["data"]["warmup"]
        self.assertEqual([r["daily"] for r in w["rows"]], [50, 100, 200, 400, 800, 1600, 3000])
        self.assertEqual(w["reached"], "2026-02-16")
        rc, j = self.run_doctor("warmup", "--target", "1000", "--factor", "3", "--period", "2d")
        self.assertEqual(rc, 1)
        self.assertEqual(self.checks(j)["warmup-pace"]["status"], "warn")
        rc, out, err = self.run_doctor("warmup", "--target", "100", "--factor", "1", json_out=False)
        self.assertEqual(rc, 64)
        self.assertIn("--factor", err)


if __name__ == "__main__":
    st.main()
