"""The hostile-input table: every tool of every vendor server, each case one refused call.

A `Case` is one `tools/call` with one hostile argument on top of otherwise valid input.
The server must refuse it cleanly — an `isError` tool result (or, where the protocol layer
refuses it, a JSON-RPC error) whose text names the offending argument — and must not send a
single request upstream. `test_hostile_inputs.py` runs the table through the official MCP
Python SDK.

What a refusal must contain (`Case.names`): by default the field in backquotes, as in
mcp-core's ``invalid argument `field`: reason`` and aws-whitelist's ``refused by policy:
`cidr` …``. A few policy refusals are documented with the field in plain words, or with the
offending value instead of the field (the command allowlist and denied arguments of
`proxmox`, the deny list of `proxmox_api`); those cases name what the docs promise, and say
so in `note`.

Only refusals are listed. Inputs the docs say are normalised or accepted (aws-whitelist
clears host bits: `198.51.100.77/28` becomes `198.51.100.64/28`; `null` for an optional
argument means "not given") are not hostile and are not here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from secops_stack import SERVERS  # noqa: E402,F401 - the deployable servers of servers.toml, in its order

# The servers whose tools the cases below call (a server in SERVERS with no case fails
# test_table_has_150_cases_and_covers_every_tool).
NGFW = "paloalto-ngfw"
AIRS = "panw-airs"
PVE = "proxmox"
AWS = "aws-whitelist"

# Categories (for the summary and the ids).
XPATH = "xpath-injection"
OPCMD = "opcmd-injection"
SHELL = "shell-metachar"
NEWLINE = "newline-smuggling"
TRAVERSAL = "path-traversal"
OVERSIZE = "oversized"
TYPE = "wrong-type"
NUMBER = "number-range"
CIDR = "cidr"
UNICODE = "unicode-confusable"
CONTROL = "control-char"
UNKNOWN = "unknown-argument"
MISSING = "missing-or-null"
ENUM = "bad-enum"
FORMAT = "bad-format"
POLICY = "policy"

CATEGORIES = [XPATH, OPCMD, SHELL, NEWLINE, TRAVERSAL, OVERSIZE, TYPE, NUMBER, CIDR, UNICODE, CONTROL, UNKNOWN,
              MISSING, ENUM, FORMAT, POLICY]


@dataclass(frozen=True)
class Case:
    server: str
    tool: str
    name: str                 # short, readable; part of the test id
    category: str
    field: str                # the offending argument, as the server names it (`items[1].port`)
    args: dict[str, Any] = field(hash=False)
    names: str | None = None  # what the refusal text must contain; default: the field in backquotes
    note: str = ""
    # Values that must appear neither in the refusal nor in the server's log (the audit event
    # included): secrets under secret-named keys.
    secrets: tuple[str, ...] = ()

    @property
    def must_contain(self) -> str:
        return self.names if self.names is not None else f"`{self.field}`"

    @property
    def id(self) -> str:
        slug = re.sub(r"[^A-Za-z0-9_.+-]+", "-", self.name).strip("-")
        return f"{self.server}/{self.tool}/{self.category}/{slug}"


CASES: list[Case] = []


def case(server: str, tool: str, name: str, category: str, fld: str, args: dict[str, Any],
         names: str | None = None, note: str = "", secrets: tuple[str, ...] = ()) -> None:
    CASES.append(Case(server, tool, name, category, fld, args, names, note, secrets))


CYR_A = "\u0430"  # Cyrillic small a, looks like Latin a
CYR_E = "\u0435"  # Cyrillic small ie, looks like Latin e
CYR_I = "\u0456"  # Cyrillic small byelorussian-ukrainian i, looks like Latin i
CYR_O = "\u043e"  # Cyrillic small o
HUGE_INT = 10 ** 400  # sent as a 401-digit JSON number: beyond u64, i64 and f64 (the "1e999" case)
MIB = 1024 * 1024

# --- paloalto-ngfw -----------------------------------------------------------------------

MATCH = {"from_zone": "untrust", "to_zone": "trust", "source": "198.51.100.7", "destination": "10.10.1.10",
         "destination_port": 443, "application": "ssl"}


def ngfw_paged(tool: str) -> None:
    """The shared hostile inputs of the paged list tools (objects, groups, services, policies)."""
    dg = {"location": "device-group"}
    case(NGFW, tool, "device_group XPath quote break-out", XPATH, "device_group",
         {**dg, "device_group": "x']/../shared"})
    case(NGFW, tool, "vsys XPath boolean injection", XPATH, "vsys", {"vsys": "vsys1' or '1'='1"})
    case(NGFW, tool, "name_filter XPath union", XPATH, "name_filter", {"name_filter": "web|//entry"})
    case(NGFW, tool, "name_filter slash", TRAVERSAL, "name_filter", {"name_filter": "../../shared"})
    case(NGFW, tool, "vsys NUL byte", CONTROL, "vsys", {"vsys": "vsys1\x00"})
    case(NGFW, tool, "device_group Cyrillic look-alike", UNICODE, "device_group",
         {**dg, "device_group": f"DG-Br{CYR_A}nch"})
    case(NGFW, tool, "name_filter 64 chars", OVERSIZE, "name_filter", {"name_filter": "a" * 64})
    case(NGFW, tool, "limit 0", NUMBER, "limit", {"limit": 0})
    case(NGFW, tool, "limit as string", TYPE, "limit", {"limit": "10"})
    case(NGFW, tool, "unknown argument xpath", UNKNOWN, "xpath", {"xpath": "/config/shared"})


for t in ["retrieve_address_objects", "retrieve_address_groups", "retrieve_service_objects",
          "retrieve_security_policies"]:
    ngfw_paged(t)

# retrieve_address_objects: more of everything
AO = "retrieve_address_objects"
case(NGFW, AO, "name_filter predicate injection", XPATH, "name_filter", {"name_filter": "web'][@name='x"})
case(NGFW, AO, "name_filter wildcard", XPATH, "name_filter", {"name_filter": "*"})
case(NGFW, AO, "name_filter markup", OPCMD, "name_filter", {"name_filter": "<show><config/></show>"})
case(NGFW, AO, "name_filter 100 KiB", OVERSIZE, "name_filter", {"name_filter": "w" * 102400})
case(NGFW, AO, "vsys newline", NEWLINE, "vsys", {"vsys": "vsys1\nvsys2"})
case(NGFW, AO, "vsys empty", FORMAT, "vsys", {"vsys": ""})
case(NGFW, AO, "vsys leading space", FORMAT, "vsys", {"vsys": " vsys1"})
case(NGFW, AO, "vsys as array", TYPE, "vsys", {"vsys": ["vsys1"]})
case(NGFW, AO, "limit 100000", NUMBER, "limit", {"limit": 100000})
case(NGFW, AO, "limit negative", NUMBER, "limit", {"limit": -1})
case(NGFW, AO, "limit float", TYPE, "limit", {"limit": 1.5})
case(NGFW, AO, "limit NaN as a string", TYPE, "limit", {"limit": "NaN"})
case(NGFW, AO, "limit 1e999 as a string", TYPE, "limit", {"limit": "1e999"})
case(NGFW, AO, "offset negative", NUMBER, "offset", {"offset": -5})
case(NGFW, AO, "offset 1e400 (beyond f64)", NUMBER, "offset", {"offset": HUGE_INT})
case(NGFW, AO, "location unknown", ENUM, "location", {"location": "galaxy"})
case(NGFW, AO, "location as number", TYPE, "location", {"location": 42})
case(NGFW, AO, "config unknown", ENUM, "config", {"config": "committed"})

AG = "retrieve_address_groups"
case(NGFW, AG, "expand as string", TYPE, "expand", {"expand": "yes"})
case(NGFW, AG, "device_group closing bracket", XPATH, "device_group",
     {"location": "device-group", "device_group": "DG]/../*["})
case(NGFW, AG, "vsys at-sign attribute", XPATH, "vsys", {"vsys": "@name"})

SO = "retrieve_service_objects"
case(NGFW, SO, "device_group tab", CONTROL, "device_group", {"location": "device-group", "device_group": "DG\tX"})
case(NGFW, SO, "limit 201", NUMBER, "limit", {"limit": 201})
case(NGFW, SO, "vsys 64 chars", OVERSIZE, "vsys", {"vsys": "v" * 64})

ZONES = "retrieve_security_zones"
case(NGFW, ZONES, "template XPath break-out", XPATH, "template",
     {"location": "template", "template": "TPL']/../../config"})
case(NGFW, ZONES, "template missing for location template", MISSING, "template", {"location": "template"})
case(NGFW, ZONES, "location shared (not for zones)", ENUM, "location", {"location": "shared"})
case(NGFW, ZONES, "vsys Cyrillic look-alike", UNICODE, "vsys", {"vsys": f"vsys1{CYR_O}"})
case(NGFW, ZONES, "vsys slash", TRAVERSAL, "vsys", {"vsys": "vsys1/../vsys2"})
case(NGFW, ZONES, "limit float", TYPE, "limit", {"limit": 2.5})
case(NGFW, ZONES, "offset 1e400 (beyond f64)", NUMBER, "offset", {"offset": HUGE_INT})
case(NGFW, ZONES, "template carriage return", NEWLINE, "template",
     {"location": "template", "template": "TPL\rX"})
case(NGFW, ZONES, "unknown argument", UNKNOWN, "cmd", {"cmd": "<show><config/></show>"})

POL = "retrieve_security_policies"
case(NGFW, POL, "rulebase with vsys", POLICY, "rulebase", {"rulebase": "pre"})
case(NGFW, POL, "rulebase unknown", ENUM, "rulebase", {"location": "shared", "rulebase": "middle"})
case(NGFW, POL, "device_group double quote", XPATH, "device_group",
     {"location": "device-group", "device_group": 'DG" or "1"="1'})
case(NGFW, POL, "name_filter newline", NEWLINE, "name_filter", {"name_filter": "allow\n"})

TSPM = "test_security_policy_match"
case(NGFW, TSPM, "from_zone markup", OPCMD, "from_zone", {**MATCH, "from_zone": "<untrust>"})
case(NGFW, TSPM, "to_zone closes its element", OPCMD, "to_zone",
     {**MATCH, "to_zone": "trust</to><source>1.1.1.1</source><to>trust"})
case(NGFW, TSPM, "application semicolon", OPCMD, "application", {**MATCH, "application": "ssl;show"})
case(NGFW, TSPM, "application closes its element", OPCMD, "application",
     {**MATCH, "application": "ssl</application><x>"})
case(NGFW, TSPM, "application ampersand entity", OPCMD, "application", {**MATCH, "application": "ssl&amp;"})
case(NGFW, TSPM, "from_zone 1000 chars", OVERSIZE, "from_zone", {**MATCH, "from_zone": "z" * 1000})
case(NGFW, TSPM, "from_zone Cyrillic look-alike", UNICODE, "from_zone", {**MATCH, "from_zone": f"untrust{CYR_A}"})
case(NGFW, TSPM, "to_zone NUL", CONTROL, "to_zone", {**MATCH, "to_zone": "tr\x00ust"})
case(NGFW, TSPM, "vsys quote", XPATH, "vsys", {**MATCH, "vsys": "vsys1'"})
case(NGFW, TSPM, "source network", FORMAT, "source", {**MATCH, "source": "10.0.0.0/8"})
case(NGFW, TSPM, "source leading-zero octet", FORMAT, "source", {**MATCH, "source": "010.0.0.1"})
case(NGFW, TSPM, "destination IPv4-mapped IPv6", FORMAT, "destination", {**MATCH, "destination": "::ffff:10.0.0.2"})
case(NGFW, TSPM, "destination host name", FORMAT, "destination", {**MATCH, "destination": "evil.example.com"})
case(NGFW, TSPM, "source trailing newline", NEWLINE, "source", {**MATCH, "source": "198.51.100.7\n"})
case(NGFW, TSPM, "source markup", OPCMD, "source", {**MATCH, "source": "1.1.1.1</source><source>2.2.2.2"})
case(NGFW, TSPM, "source null", MISSING, "source", {**MATCH, "source": None})
case(NGFW, TSPM, "from_zone missing", MISSING, "from_zone", {k: v for k, v in MATCH.items() if k != "from_zone"})
case(NGFW, TSPM, "destination_port 0", NUMBER, "destination_port", {**MATCH, "destination_port": 0})
case(NGFW, TSPM, "destination_port 70000", NUMBER, "destination_port", {**MATCH, "destination_port": 70000})
case(NGFW, TSPM, "destination_port negative", NUMBER, "destination_port", {**MATCH, "destination_port": -1})
case(NGFW, TSPM, "destination_port as string", TYPE, "destination_port", {**MATCH, "destination_port": "443"})
case(NGFW, TSPM, "destination_port float", TYPE, "destination_port", {**MATCH, "destination_port": 443.5})
case(NGFW, TSPM, "destination_port 1e400", NUMBER, "destination_port", {**MATCH, "destination_port": HUGE_INT})
case(NGFW, TSPM, "destination_port NaN (the SDK sends null)", NUMBER, "destination_port",
     {**MATCH, "destination_port": float("nan")})
case(NGFW, TSPM, "destination_port missing for tcp", MISSING, "destination_port",
     {k: v for k, v in MATCH.items() if k != "destination_port"})
case(NGFW, TSPM, "protocol unknown", ENUM, "protocol", {**MATCH, "protocol": "gre"})
case(NGFW, TSPM, "unknown argument cmd", UNKNOWN, "cmd", {**MATCH, "cmd": "<show><system><info/></system></show>"})

SYS = "get_system_info"
case(NGFW, SYS, "unknown argument cmd", UNKNOWN, "cmd", {"cmd": "<show><config><running/></config></show>"})
case(NGFW, SYS, "unknown argument xpath", UNKNOWN, "xpath", {"xpath": "/config/mgt-config/users"})

DGS = "list_device_groups"
case(NGFW, DGS, "limit 0", NUMBER, "limit", {"limit": 0})
case(NGFW, DGS, "offset negative", NUMBER, "offset", {"offset": -1})
case(NGFW, DGS, "config markup", ENUM, "config", {"config": "<running/>"})
case(NGFW, DGS, "unknown argument device_group", UNKNOWN, "device_group", {"device_group": "x']/.."})

# paloalto-ngfw writes (ngfw:write, toolset changes). Each case is refused before the tool reads
# the candidate: names, members, values, free text and the location are checked first.

LOC_FIELDS = ("location", "vsys", "device_group")


def ngfw_location(tool: str, base: dict) -> None:
    """The location arguments every change tool takes, hostile."""
    case(NGFW, tool, "vsys XPath quote", XPATH, "vsys", {**base, "vsys": "vsys1']/../*[@name='x"})
    case(NGFW, tool, "device_group bracket", XPATH, "device_group",
         {**base, "location": "device-group", "device_group": "DG]/..["})
    case(NGFW, tool, "device_group without location", POLICY, "device_group", {**base, "device_group": "DG"})
    case(NGFW, tool, "location pushed is read-only", POLICY, "location", {**base, "location": "pushed"})
    case(NGFW, tool, "location unknown", ENUM, "location", {**base, "location": "running"})
    case(NGFW, tool, "dry_run as string", TYPE, "dry_run", {**base, "dry_run": "yes"})


SAO = "set_address_object"
A_OK = {"name": "mcp-obj", "kind": "ip-netmask", "value": "198.51.100.7"}
ngfw_location(SAO, A_OK)
case(NGFW, SAO, "name XPath break-out", XPATH, "name", {**A_OK, "name": "x']/../../shared/address/entry[@name='y"})
case(NGFW, SAO, "name markup", OPCMD, "name", {**A_OK, "name": "<entry/>"})
case(NGFW, SAO, "name 64 chars", OVERSIZE, "name", {**A_OK, "name": "n" * 64})
case(NGFW, SAO, "name Cyrillic look-alike", UNICODE, "name", {**A_OK, "name": f"w{CYR_E}b"})
case(NGFW, SAO, "name missing", MISSING, "name", {k: v for k, v in A_OK.items() if k != "name"})
case(NGFW, SAO, "kind unknown", ENUM, "kind", {**A_OK, "kind": "ip-any"})
case(NGFW, SAO, "value closes its element", OPCMD, "value",
     {**A_OK, "value": "10.0.0.1</ip-netmask><fqdn>evil.example.com"})
case(NGFW, SAO, "value prefix 33", CIDR, "value", {**A_OK, "value": "10.0.0.0/33"})
case(NGFW, SAO, "value leading-zero octet", CIDR, "value", {**A_OK, "value": "010.0.0.1"})
case(NGFW, SAO, "value IPv4-mapped IPv6", CIDR, "value", {**A_OK, "value": "::ffff:10.0.0.1"})
case(NGFW, SAO, "value range reversed", FORMAT, "value", {**A_OK, "kind": "ip-range", "value": "10.0.0.9-10.0.0.1"})
case(NGFW, SAO, "value wildcard IPv6", FORMAT, "value",
     {**A_OK, "kind": "ip-wildcard", "value": "2001:db8::1/::ff"})
case(NGFW, SAO, "value fqdn with space", FORMAT, "value", {**A_OK, "kind": "fqdn", "value": "a b.example.com"})
case(NGFW, SAO, "value fqdn shell", SHELL, "value", {**A_OK, "kind": "fqdn", "value": "x.com;reboot"})
case(NGFW, SAO, "value without kind, no kind accepts it", FORMAT, "value",
     {"name": "mcp-obj", "value": "10.0.0.1'/>"})
case(NGFW, SAO, "value newline", NEWLINE, "value", {**A_OK, "value": "198.51.100.7\n"})
case(NGFW, SAO, "description NUL", CONTROL, "description", {**A_OK, "description": "a\x00b"})
case(NGFW, SAO, "description 1024 chars", OVERSIZE, "description", {**A_OK, "description": "d" * 1024})
case(NGFW, SAO, "tags member markup", OPCMD, "tags[0]", {**A_OK, "tags": ["web</member><member>x"]})
case(NGFW, SAO, "tags repeated", FORMAT, "tags[1]", {**A_OK, "tags": ["web", "web"]})
case(NGFW, SAO, "tags as string", TYPE, "tags", {**A_OK, "tags": "web"})
case(NGFW, SAO, "unknown argument xpath", UNKNOWN, "xpath", {**A_OK, "xpath": "/config/shared"})

SAG = "set_address_group"
G_OK = {"name": "mcp-grp", "static_members": ["web-srv-01"]}
ngfw_location(SAG, G_OK)
case(NGFW, SAG, "name quote", XPATH, "name", {**G_OK, "name": "g' or '1'='1"})
case(NGFW, SAG, "static_members XPath", XPATH, "static_members[0]", {**G_OK, "static_members": ["a']/.."]})
case(NGFW, SAG, "static_members empty", MISSING, "static_members", {**G_OK, "static_members": []})
case(NGFW, SAG, "static_members 501", OVERSIZE, "static_members", {**G_OK, "static_members": [f"o{i}" for i in range(501)]})
case(NGFW, SAG, "static_members itself", POLICY, "static_members", {**G_OK, "static_members": ["mcp-grp"]})
case(NGFW, SAG, "dynamic_filter unbalanced", FORMAT, "dynamic_filter", {"name": "mcp-grp", "dynamic_filter": "'web' and ("})
case(NGFW, SAG, "dynamic_filter newline", NEWLINE, "dynamic_filter", {"name": "mcp-grp", "dynamic_filter": "'web'\n"})
case(NGFW, SAG, "dynamic_filter with static_members", POLICY, "dynamic_filter", {**G_OK, "dynamic_filter": "'web'"})
case(NGFW, SAG, "add_members with static_members", POLICY, "add_members", {**G_OK, "add_members": ["x"]})
case(NGFW, SAG, "add_members markup", OPCMD, "add_members[0]", {"name": "mcp-grp", "add_members": ["<x/>"]})
case(NGFW, SAG, "remove_members tab", CONTROL, "remove_members[0]", {"name": "mcp-grp", "remove_members": ["a\tb"]})
case(NGFW, SAG, "remove_members as string", TYPE, "remove_members", {"name": "mcp-grp", "remove_members": "a"})
case(NGFW, SAG, "description bidi override", UNICODE, "description", {**G_OK, "description": "safe\u202eevil"})
case(NGFW, SAG, "tags 128 chars", OVERSIZE, "tags[0]", {**G_OK, "tags": ["t" * 128]})

SSO = "set_service_object"
S_OK = {"name": "mcp-svc", "protocol": "tcp", "port": "8443"}
ngfw_location(SSO, S_OK)
case(NGFW, SSO, "name slash", TRAVERSAL, "name", {**S_OK, "name": "../svc"})
case(NGFW, SSO, "protocol icmp", ENUM, "protocol", {**S_OK, "protocol": "icmp"})
case(NGFW, SSO, "port 70000", NUMBER, "port", {**S_OK, "port": "70000"})
case(NGFW, SSO, "port range reversed", NUMBER, "port", {**S_OK, "port": "90-80"})
case(NGFW, SSO, "port shell", SHELL, "port", {**S_OK, "port": "80;reboot"})
case(NGFW, SSO, "port markup", OPCMD, "port", {**S_OK, "port": "80</port><port>1-65535"})
case(NGFW, SSO, "port as number", TYPE, "port", {**S_OK, "port": 8443})
case(NGFW, SSO, "source_port leading zero", FORMAT, "source_port", {**S_OK, "source_port": "080"})
case(NGFW, SSO, "description carriage return", NEWLINE, "description", {**S_OK, "description": "a\rb"})
case(NGFW, SSO, "tags NUL", CONTROL, "tags[0]", {**S_OK, "tags": ["t\x00"]})

STAG = "set_tag"
T_OK = {"name": "mcp-tag", "color": "color3"}
ngfw_location(STAG, T_OK)
case(NGFW, STAG, "name quote", XPATH, "name", {**T_OK, "name": "t\"x"})
case(NGFW, STAG, "name 128 chars", OVERSIZE, "name", {**T_OK, "name": "t" * 128})
case(NGFW, STAG, "color 43", ENUM, "color", {**T_OK, "color": "color43"})
case(NGFW, STAG, "color markup", OPCMD, "color", {**T_OK, "color": "color1</color><x>"})
case(NGFW, STAG, "comments ESC", CONTROL, "comments", {**T_OK, "comments": "\x1b[2J"})
case(NGFW, STAG, "comments 1024 chars", OVERSIZE, "comments", {**T_OK, "comments": "c" * 1024})

for _tool in ("delete_address_object", "delete_address_group", "delete_service_object", "delete_tag"):
    ngfw_location(_tool, {"name": "x"})
    case(NGFW, _tool, "name XPath union", XPATH, "name", {"name": "x' | //entry | '"})
    case(NGFW, _tool, "name empty", FORMAT, "name", {"name": ""})
    case(NGFW, _tool, "name missing", MISSING, "name", {})
    case(NGFW, _tool, "unknown argument force", UNKNOWN, "force", {"name": "x", "force": True})

SSR = "set_security_rule"
R_OK = {"name": "mcp-rule", "from": ["trust"], "to": ["untrust"], "action": "deny"}
ngfw_location(SSR, R_OK)
case(NGFW, SSR, "name bracket", XPATH, "name", {**R_OK, "name": "r[1]"})
case(NGFW, SSR, "from XPath", XPATH, "from[0]", {**R_OK, "from": ["trust']/../x"]})
case(NGFW, SSR, "from empty", MISSING, "from", {**R_OK, "from": []})
case(NGFW, SSR, "to Cyrillic", UNICODE, "to[0]", {**R_OK, "to": [f"untrust{CYR_A}"]})
case(NGFW, SSR, "source host bits", CIDR, "source[0]", {**R_OK, "source": ["10.1.2.3/8"]})
case(NGFW, SSR, "source markup", OPCMD, "source[1]", {**R_OK, "source": ["any", "</source><source>"]})
case(NGFW, SSR, "destination range reversed", CIDR, "destination[0]", {**R_OK, "destination": ["10.0.0.9-10.0.0.1"]})
case(NGFW, SSR, "destination repeated", FORMAT, "destination[1]", {**R_OK, "destination": ["any", "any"]})
case(NGFW, SSR, "source_user markup", OPCMD, "source_user[0]", {**R_OK, "source_user": ["a<b>"]})
case(NGFW, SSR, "application semicolon", SHELL, "application[0]", {**R_OK, "application": ["ssl;id"]})
case(NGFW, SSR, "service slash", TRAVERSAL, "service[0]", {**R_OK, "service": ["../any"]})
case(NGFW, SSR, "category newline", NEWLINE, "category[0]", {**R_OK, "category": ["news\n"]})
case(NGFW, SSR, "action unknown", ENUM, "action", {**R_OK, "action": "permit"})
case(NGFW, SSR, "negate_source as string", TYPE, "negate_source", {**R_OK, "negate_source": "yes"})
case(NGFW, SSR, "negate_destination as number", TYPE, "negate_destination", {**R_OK, "negate_destination": 1})
case(NGFW, SSR, "disabled as string", TYPE, "disabled", {**R_OK, "disabled": "no"})
case(NGFW, SSR, "log_setting quote", XPATH, "log_setting", {**R_OK, "log_setting": "fwd'x"})
case(NGFW, SSR, "log_start as string", TYPE, "log_start", {**R_OK, "log_start": "yes"})
case(NGFW, SSR, "log_end as number", TYPE, "log_end", {**R_OK, "log_end": 0})
case(NGFW, SSR, "profile_group and profiles", POLICY, "profiles", {**R_OK, "profile_group": "g", "profiles": {"virus": "v"}})
case(NGFW, SSR, "profile_group markup", OPCMD, "profile_group", {**R_OK, "profile_group": "g</member>"})
case(NGFW, SSR, "profiles.url_filtering quote", XPATH, "profiles.url_filtering", {**R_OK, "profiles": {"url_filtering": "u'"}})
case(NGFW, SSR, "profiles unknown type", UNKNOWN, "profiles.antivirus", {**R_OK, "profiles": {"antivirus": "v"}})
case(NGFW, SSR, "tags ampersand", OPCMD, "tags[0]", {**R_OK, "tags": ["a&b"]})
case(NGFW, SSR, "description 1024 chars", OVERSIZE, "description", {**R_OK, "description": "d" * 1024})
case(NGFW, SSR, "rulebase with vsys", POLICY, "rulebase", {**R_OK, "rulebase": "pre"})
case(NGFW, SSR, "rulebase unknown", ENUM, "rulebase", {**R_OK, "location": "shared", "rulebase": "default"})

DSR = "delete_security_rule"
ngfw_location(DSR, {"name": "r"})
case(NGFW, DSR, "name XPath", XPATH, "name", {"name": "r']/../../rules/entry[@name='s"})
case(NGFW, DSR, "rulebase with vsys", POLICY, "rulebase", {"name": "r", "rulebase": "post"})
case(NGFW, DSR, "rulebase unknown", ENUM, "rulebase", {"name": "r", "location": "shared", "rulebase": "x"})

MSR = "move_security_rule"
M_OK = {"name": "deny-all", "where": "top"}
ngfw_location(MSR, M_OK)
case(NGFW, MSR, "name markup", XPATH, "name", {**M_OK, "name": "r'/>"})
case(NGFW, MSR, "where unknown", ENUM, "where", {**M_OK, "where": "middle"})
case(NGFW, MSR, "where missing", MISSING, "where", {"name": "deny-all"})
case(NGFW, MSR, "other with top", POLICY, "other", {**M_OK, "other": "allow-dns-out"})
case(NGFW, MSR, "other missing for after", MISSING, "other", {"name": "deny-all", "where": "after"})
case(NGFW, MSR, "other itself", POLICY, "other", {"name": "deny-all", "where": "before", "other": "deny-all"})
case(NGFW, MSR, "other XPath", XPATH, "other", {"name": "deny-all", "where": "before", "other": "x' or '1'='1"})
case(NGFW, MSR, "rulebase with vsys", POLICY, "rulebase", {**M_OK, "rulebase": "pre"})

PRV = "preview_changes"
case(NGFW, PRV, "vsys without location", POLICY, "vsys", {"vsys": "vsys1"})
case(NGFW, PRV, "device_group without location", POLICY, "device_group", {"device_group": "DG"})
case(NGFW, PRV, "vsys XPath", XPATH, "vsys", {"location": "vsys", "vsys": "vsys1'"})
case(NGFW, PRV, "location unknown", ENUM, "location", {"location": "everything"})
case(NGFW, PRV, "limit 0", NUMBER, "limit", {"limit": 0})
case(NGFW, PRV, "offset negative", NUMBER, "offset", {"offset": -1})

CMT = "commit_changes"
case(NGFW, CMT, "reason empty", MISSING, "reason", {"reason": ""})
case(NGFW, CMT, "reason missing", MISSING, "reason", {})
case(NGFW, CMT, "reason blank", FORMAT, "reason", {"reason": "   "})
case(NGFW, CMT, "reason newline", NEWLINE, "reason", {"reason": "ok\nForged: line"})
case(NGFW, CMT, "reason 257 chars", OVERSIZE, "reason", {"reason": "r" * 257})
case(NGFW, CMT, "wait_seconds 111", NUMBER, "wait_seconds", {"reason": "x", "wait_seconds": 111})
case(NGFW, CMT, "wait_seconds negative", NUMBER, "wait_seconds", {"reason": "x", "wait_seconds": -1})
case(NGFW, CMT, "dry_run as string", TYPE, "dry_run", {"reason": "x", "dry_run": "true"})
case(NGFW, CMT, "unknown argument force", UNKNOWN, "force", {"reason": "x", "force": True})
case(NGFW, CMT, "unknown argument admin", UNKNOWN, "admin", {"reason": "x", "admin": "other-admin"})

CST = "commit_status"
case(NGFW, CST, "job_id 0", NUMBER, "job_id", {"job_id": 0})
case(NGFW, CST, "job_id beyond u32", NUMBER, "job_id", {"job_id": 2 ** 40})
case(NGFW, CST, "job_id as string", TYPE, "job_id", {"job_id": "12</id><id>1"})
case(NGFW, CST, "job_id missing", MISSING, "job_id", {})

REV = "revert_changes"
case(NGFW, REV, "dry_run as string", TYPE, "dry_run", {"dry_run": "no"})
case(NGFW, REV, "unknown argument admin", UNKNOWN, "admin", {"admin": "someone-else"})

PUSH = "push_to_devices"
P_OK = {"device_group": "DG-Branch", "reason": "x"}
case(NGFW, PUSH, "neither target", MISSING, "device_group", {"reason": "x"})
case(NGFW, PUSH, "both targets", POLICY, "template_stack", {**P_OK, "template_stack": "TS"})
case(NGFW, PUSH, "device_group XPath", XPATH, "device_group", {**P_OK, "device_group": "DG']/.."})
case(NGFW, PUSH, "template_stack markup", OPCMD, "template_stack", {"template_stack": "TS</name>", "reason": "x"})
case(NGFW, PUSH, "reason NUL", CONTROL, "reason", {**P_OK, "reason": "x\x00"})
case(NGFW, PUSH, "wait_seconds 1e400", NUMBER, "wait_seconds", {**P_OK, "wait_seconds": HUGE_INT})
case(NGFW, PUSH, "dry_run as number", TYPE, "dry_run", {**P_OK, "dry_run": 1})

NAT = "retrieve_nat_policies"
ngfw_paged(NAT)
case(NGFW, NAT, "rulebase with vsys", POLICY, "rulebase", {"rulebase": "post"})
case(NGFW, NAT, "config unknown", ENUM, "config", {"config": "merged"})
case(NGFW, NAT, "location template", ENUM, "location", {"location": "template"})
case(NGFW, NAT, "offset negative", NUMBER, "offset", {"offset": -1})

# Parameters of the read tools that had no case of their own.
for _tool in ("retrieve_address_groups", "retrieve_service_objects", "retrieve_security_policies"):
    case(NGFW, _tool, "config unknown", ENUM, "config", {"config": "staged"})
    case(NGFW, _tool, "location as array", TYPE, "location", {"location": ["vsys"]})
    case(NGFW, _tool, "offset as string", TYPE, "offset", {"offset": "1"})
case(NGFW, ZONES, "config unknown", ENUM, "config", {"config": "both"})

TNPM = "test_nat_policy_match"
NM = {k: v for k, v in MATCH.items() if k != "application"}
case(NGFW, TNPM, "from_zone markup", OPCMD, "from_zone", {**NM, "from_zone": "a</from><from>b"})
case(NGFW, TNPM, "to_zone NUL", CONTROL, "to_zone", {**NM, "to_zone": "b\x00"})
case(NGFW, TNPM, "source network", FORMAT, "source", {**NM, "source": "10.0.0.0/8"})
case(NGFW, TNPM, "destination host name", FORMAT, "destination", {**NM, "destination": "evil.example.com"})
case(NGFW, TNPM, "destination_port 0", NUMBER, "destination_port", {**NM, "destination_port": 0})
case(NGFW, TNPM, "protocol unknown", ENUM, "protocol", {**NM, "protocol": "esp"})
case(NGFW, TNPM, "to_interface markup", OPCMD, "to_interface", {**NM, "to_interface": "ethernet1/1</to-interface>"})
case(NGFW, TNPM, "to_interface shell", SHELL, "to_interface", {**NM, "to_interface": "eth1;id"})
case(NGFW, TNPM, "vsys quote", XPATH, "vsys", {**NM, "vsys": "vsys1'"})
case(NGFW, TNPM, "unknown argument application", UNKNOWN, "application", {**NM, "application": "ssl"})

HITS = "retrieve_rule_hit_counts"
case(NGFW, HITS, "location pushed", POLICY, "location", {"location": "pushed"})
case(NGFW, HITS, "vsys XPath", XPATH, "vsys", {"vsys": "vsys1']"})
case(NGFW, HITS, "device_group missing", MISSING, "device_group", {"location": "device-group"})
case(NGFW, HITS, "rulebase with vsys", POLICY, "rulebase", {"rulebase": "pre"})
case(NGFW, HITS, "rule_type unknown", ENUM, "rule_type", {"rule_type": "decryption"})
case(NGFW, HITS, "unused_only as string", TYPE, "unused_only", {"unused_only": "true"})
case(NGFW, HITS, "name_filter wildcard", XPATH, "name_filter", {"name_filter": "*"})
case(NGFW, HITS, "limit 201", NUMBER, "limit", {"limit": 201})
case(NGFW, HITS, "offset as string", TYPE, "offset", {"offset": "5"})

# paloalto-ngfw operations (issue 21, ngfw:read, toolset operations) and `device` on every tool
# that takes it. Malformed devices are refused before the host kind is even asked.

BAD_DEVICES = [
    ("device XPath quote", XPATH, "fw1']/../x"),
    ("device markup", OPCMD, "fw1</target><x>"),
    ("device shell", SHELL, "fw1;id"),
    ("device newline", NEWLINE, "fw1\nx"),
    ("device NUL", CONTROL, "fw1\x00"),
    ("device Cyrillic look-alike", UNICODE, f"p{CYR_A}nos-01"),
    ("device 64 chars", OVERSIZE, "f" * 64),
    ("device empty", FORMAT, ""),
]


def ngfw_device(tool: str, base: dict, all_kinds: bool = False) -> None:
    """Hostile `device` values for a tool (every kind, or two)."""
    for name, cat, value in (BAD_DEVICES if all_kinds else BAD_DEVICES[:2]):
        case(NGFW, tool, name, cat, "device", {**base, "device": value})
    if all_kinds:
        case(NGFW, tool, "device as number", TYPE, "device", {**base, "device": 7200006721})


for _tool, _base in [(AO, {}), (AG, {}), (SO, {}), (ZONES, {}), (POL, {}), (TSPM, MATCH), (SYS, {}),
                     (NAT, {}), (TNPM, NM), (HITS, {}), (PRV, {}), (CST, {"job_id": 1}),
                     (CMT, {"reason": "x"}), (REV, {}), (SAO, A_OK), (SAG, G_OK), (SSO, S_OK),
                     (STAG, T_OK), (SSR, R_OK), (DSR, {"name": "x"}), (MSR, M_OK),
                     ("delete_address_object", {"name": "x"}), ("delete_address_group", {"name": "x"}),
                     ("delete_service_object", {"name": "x"}), ("delete_tag", {"name": "x"})]:
    ngfw_device(_tool, _base)
case(NGFW, DGS, "unknown argument device (Panorama-level)", UNKNOWN, "device", {"device": "fw1"})
case(NGFW, PUSH, "unknown argument device (Panorama-level)", UNKNOWN, "device", {**P_OK, "device": "fw1"})

LMD = "list_managed_devices"
case(NGFW, LMD, "connected_only as string", TYPE, "connected_only", {"connected_only": "yes"})
case(NGFW, LMD, "unknown argument device", UNKNOWN, "device", {"device": "fw1"})
case(NGFW, LMD, "unknown argument cmd", UNKNOWN, "cmd", {"cmd": "<show><devices><all/></devices></show>"})

QL = "query_logs"
L_OK = {"log_type": "traffic"}
ngfw_device(QL, L_OK, all_kinds=True)
case(NGFW, QL, "log_type unknown", ENUM, "log_type", {"log_type": "data"})
case(NGFW, QL, "log_type missing", MISSING, "log_type", {})
case(NGFW, QL, "query injected token", SHELL, "query", {**L_OK, "query": "(app eq ssl) ; rm -rf /"})
case(NGFW, QL, "query markup", OPCMD, "query", {**L_OK, "query": "(app eq x]]><x/>)"})
case(NGFW, QL, "query XPath", XPATH, "query", {**L_OK, "query": "(rule eq x') or ('1'='1)"})
case(NGFW, QL, "query unknown field", FORMAT, "query", {**L_OK, "query": "(password eq x)"})
case(NGFW, QL, "query unknown operator", FORMAT, "query", {**L_OK, "query": "(app like ssl)"})
case(NGFW, QL, "query unclosed quote", FORMAT, "query", {**L_OK, "query": "(rule eq 'allow)"})
case(NGFW, QL, "query unbalanced", FORMAT, "query", {**L_OK, "query": "((app eq ssl)"})
case(NGFW, QL, "query newline", NEWLINE, "query", {**L_OK, "query": "(app eq ssl)\n(app eq x)"})
case(NGFW, QL, "query NUL in quotes", CONTROL, "query", {**L_OK, "query": "(rule eq 'a\x00b')"})
case(NGFW, QL, "query bidi override", UNICODE, "query", {**L_OK, "query": "(rule eq 'a\u202eb')"})
case(NGFW, QL, "query Cyrillic field", UNICODE, "query", {**L_OK, "query": f"({CYR_A}pp eq ssl)"})
case(NGFW, QL, "query 3000 chars", OVERSIZE, "query", {**L_OK, "query": "(app eq ssl) or " * 200 + "(app eq x)"})
case(NGFW, QL, "query as array", TYPE, "query", {**L_OK, "query": ["(app eq ssl)"]})
case(NGFW, QL, "since free text", FORMAT, "since", {**L_OK, "since": "yesterday"})
case(NGFW, QL, "since with quote", FORMAT, "since", {**L_OK, "since": "2026/11/20 10:00:00' or 1"})
case(NGFW, QL, "until offset zone", FORMAT, "until", {**L_OK, "until": "2026-11-20T10:00:00+02:00"})
case(NGFW, QL, "until before since", POLICY, "until",
     {**L_OK, "since": "2026/11/21 00:00:00", "until": "2026/11/20 00:00:00"})
case(NGFW, QL, "limit 5001", NUMBER, "limit", {**L_OK, "limit": 5001})
case(NGFW, QL, "limit 0", NUMBER, "limit", {**L_OK, "limit": 0})
case(NGFW, QL, "limit as string", TYPE, "limit", {**L_OK, "limit": "100"})
case(NGFW, QL, "offset beyond 100000", NUMBER, "offset", {**L_OK, "offset": 100001})
case(NGFW, QL, "offset negative", NUMBER, "offset", {**L_OK, "offset": -1})
case(NGFW, QL, "wait_seconds 0", NUMBER, "wait_seconds", {**L_OK, "wait_seconds": 0})
case(NGFW, QL, "wait_seconds 301", NUMBER, "wait_seconds", {**L_OK, "wait_seconds": 301})
case(NGFW, QL, "unknown argument nlogs", UNKNOWN, "nlogs", {**L_OK, "nlogs": 10})

SHS = "show_sessions"
ngfw_device(SHS, {}, all_kinds=True)
case(NGFW, SHS, "source network", CIDR, "source", {"source": "10.0.0.0/8"})
case(NGFW, SHS, "destination host name", FORMAT, "destination", {"destination": "evil.example.com"})
case(NGFW, SHS, "port 0", NUMBER, "port", {"port": 0})
case(NGFW, SHS, "port 70000", NUMBER, "port", {"port": 70000})
case(NGFW, SHS, "protocol unknown", ENUM, "protocol", {"protocol": "gre"})
case(NGFW, SHS, "application markup", OPCMD, "application", {"application": "ssl</application><x>"})
case(NGFW, SHS, "rule quote", XPATH, "rule", {"rule": "r'x"})
case(NGFW, SHS, "state unknown", ENUM, "state", {"state": "established"})
case(NGFW, SHS, "limit 201", NUMBER, "limit", {"limit": 201})
case(NGFW, SHS, "offset as string", TYPE, "offset", {"offset": "1"})

SHR = "show_routes"
ngfw_device(SHR, {}, all_kinds=True)
case(NGFW, SHR, "virtual_router markup", OPCMD, "virtual_router", {"virtual_router": "default</virtual-router>"})
case(NGFW, SHR, "virtual_router NUL", CONTROL, "virtual_router", {"virtual_router": "default\x00"})
case(NGFW, SHR, "destination network", CIDR, "destination", {"destination": "10.0.0.0/8"})
case(NGFW, SHR, "destination shell", SHELL, "destination", {"destination": "8.8.8.8;id"})
case(NGFW, SHR, "limit 0", NUMBER, "limit", {"limit": 0})
case(NGFW, SHR, "offset negative", NUMBER, "offset", {"offset": -1})

SHI = "show_interfaces"
ngfw_device(SHI, {}, all_kinds=True)
case(NGFW, SHI, "name markup", OPCMD, "name", {"name": "ethernet1/1</interface><x>"})
case(NGFW, SHI, "name traversal", TRAVERSAL, "name", {"name": "../../etc"})
case(NGFW, SHI, "name shell", SHELL, "name", {"name": "eth1;id"})
case(NGFW, SHI, "limit 201", NUMBER, "limit", {"limit": 201})
case(NGFW, SHI, "offset as string", TYPE, "offset", {"offset": "0"})

SHA = "show_ha_state"
ngfw_device(SHA, {}, all_kinds=True)
case(NGFW, SHA, "unknown argument cmd", UNKNOWN, "cmd", {"cmd": "<show><high-availability><all/></high-availability></show>"})

EXP = "explain_traffic"
E_OK = {"source": "198.51.100.7", "destination": "10.10.1.10", "port": 443}
ngfw_device(EXP, E_OK, all_kinds=True)
case(NGFW, EXP, "source network", CIDR, "source", {**E_OK, "source": "10.0.0.0/8"})
case(NGFW, EXP, "source missing", MISSING, "source", {k: v for k, v in E_OK.items() if k != "source"})
case(NGFW, EXP, "destination host name", FORMAT, "destination", {**E_OK, "destination": "evil.example.com"})
case(NGFW, EXP, "port 0", NUMBER, "port", {**E_OK, "port": 0})
case(NGFW, EXP, "port missing for tcp", MISSING, "port", {k: v for k, v in E_OK.items() if k != "port"})
case(NGFW, EXP, "protocol unknown", ENUM, "protocol", {**E_OK, "protocol": "sctp"})
case(NGFW, EXP, "application markup", OPCMD, "application", {**E_OK, "application": "ssl</application>"})
case(NGFW, EXP, "from_zone XPath", XPATH, "from_zone", {**E_OK, "from_zone": "trust' or '1'='1"})
case(NGFW, EXP, "to_zone NUL", CONTROL, "to_zone", {**E_OK, "to_zone": "untrust\x00"})
case(NGFW, EXP, "vsys quote", XPATH, "vsys", {**E_OK, "vsys": "vsys1'"})
case(NGFW, EXP, "log_entries 101", NUMBER, "log_entries", {**E_OK, "log_entries": 101})
case(NGFW, EXP, "log_entries negative", NUMBER, "log_entries", {**E_OK, "log_entries": -1})
case(NGFW, EXP, "unknown argument query", UNKNOWN, "query", {**E_OK, "query": "(app eq ssl)"})

# --- panw-airs -----------------------------------------------------------------------------

INLINE = "pan_inline_scan"
P = {"prompt": "hello"}
case(AIRS, INLINE, "prompt over 2 MiB", OVERSIZE, "prompt", {"prompt": "a" * (2 * MIB + 1)})
case(AIRS, INLINE, "prompt and response over 2 MiB together", OVERSIZE, "prompt",
     {"prompt": "a" * (MIB + 512 * 1024), "response": "b" * MIB})
case(AIRS, INLINE, "code_response over 2 MiB", OVERSIZE, "code_response", {"code_response": "c" * (2 * MIB + 1)})
case(AIRS, INLINE, "context alone", MISSING, "prompt", {"context": "grounding only"})
case(AIRS, INLINE, "every content field null", MISSING, "prompt", {"prompt": None, "response": None})
case(AIRS, INLINE, "no arguments at all", MISSING, "prompt", {})
case(AIRS, INLINE, "tr_id 101 chars", OVERSIZE, "tr_id", {**P, "tr_id": "t" * 101})
case(AIRS, INLINE, "tr_id empty", FORMAT, "tr_id", {**P, "tr_id": ""})
case(AIRS, INLINE, "tr_id newline", NEWLINE, "tr_id", {**P, "tr_id": "t-1\nX-Injected: 1"})
case(AIRS, INLINE, "session_id NUL", CONTROL, "session_id", {**P, "session_id": "s\x00"})
case(AIRS, INLINE, "session_id escape char", CONTROL, "session_id", {**P, "session_id": "s\x1b[2J"})
case(AIRS, INLINE, "profile_name 101 chars", OVERSIZE, "profile_name", {**P, "profile_name": "p" * 101})
case(AIRS, INLINE, "profile_name newline", NEWLINE, "profile_name", {**P, "profile_name": "default\nstrict"})
case(AIRS, INLINE, "profile_name and profile_id", POLICY, "profile_id",
     {**P, "profile_name": "default-profile", "profile_id": "pid-strict"})
# Only the server's own profile unless PANW_AI_ALLOWED_PROFILES says otherwise: a permissive
# profile would turn a block into an allow.
case(AIRS, INLINE, "profile_name not allowed", POLICY, "profile_name", {**P, "profile_name": "permissive"})
case(AIRS, INLINE, "profile_id not allowed", POLICY, "profile_id", {**P, "profile_id": "pid-permissive"})
case(AIRS, INLINE, "metadata.app_user 101 chars", OVERSIZE, "metadata.app_user",
     {**P, "metadata": {"app_user": "u" * 101}})
case(AIRS, INLINE, "metadata.ai_model control char", CONTROL, "metadata.ai_model",
     {**P, "metadata": {"ai_model": "gpt\x07"}})
case(AIRS, INLINE, "metadata as string", TYPE, "metadata", {**P, "metadata": "app_name=x"})
case(AIRS, INLINE, "metadata unknown key", UNKNOWN, "metadata.role", {**P, "metadata": {"role": "admin"}})
case(AIRS, INLINE, "tool_event without metadata", MISSING, "tool_event.metadata", {"tool_event": {"input": "{}"}})
case(AIRS, INLINE, "tool_event.metadata.server_name newline", NEWLINE, "tool_event.metadata.server_name",
     {"tool_event": {"metadata": {"ecosystem": "mcp", "method": "tools/call", "server_name": "files\nx"},
                     "input": "{}"}})
case(AIRS, INLINE, "prompt as number", TYPE, "prompt", {"prompt": 42})
case(AIRS, INLINE, "prompt as array", TYPE, "prompt", {"prompt": ["a", "b"]})
case(AIRS, INLINE, "unknown argument api_key", UNKNOWN, "api_key", {**P, "api_key": "stolen"})

BATCH = "pan_batch_scan"
I = [{"prompt": "one"}]
case(AIRS, BATCH, "items empty", MISSING, "items", {"items": []})
case(AIRS, BATCH, "items 501", OVERSIZE, "items", {"items": [{"prompt": "x"}] * 501})
case(AIRS, BATCH, "items missing", MISSING, "items", {})
case(AIRS, BATCH, "items as object", TYPE, "items", {"items": {"prompt": "x"}})
case(AIRS, BATCH, "item as string", TYPE, "items[0]", {"items": ["prompt"]})
case(AIRS, BATCH, "item empty object", MISSING, "items[1]", {"items": [{"prompt": "ok"}, {}]})
case(AIRS, BATCH, "item context alone", MISSING, "items[0]", {"items": [{"context": "c"}]})
case(AIRS, BATCH, "item tr_id newline", NEWLINE, "items[2].tr_id",
     {"items": [{"prompt": "a"}, {"prompt": "b"}, {"prompt": "c", "tr_id": "t\nx"}]})
case(AIRS, BATCH, "item prompt over 2 MiB", OVERSIZE, "items[0].prompt", {"items": [{"prompt": "a" * (2 * MIB + 1)}]})
case(AIRS, BATCH, "a group of five over 5 MiB", OVERSIZE, "items[0..2]",
     {"items": [{"prompt": "a" * (2 * MIB - 16)} for _ in range(3)]}, names="`items[0..2]`",
     note="documented as ``invalid argument `items[0..3]`: these items make a N-byte request``; three items here")
case(AIRS, BATCH, "item unknown field", UNKNOWN, "items[0].req_id", {"items": [{"prompt": "a", "req_id": 7}]})
case(AIRS, BATCH, "wait_seconds 121", NUMBER, "wait_seconds", {"items": I, "wait_seconds": 121})
case(AIRS, BATCH, "wait_seconds negative", NUMBER, "wait_seconds", {"items": I, "wait_seconds": -1})
case(AIRS, BATCH, "wait_seconds float", TYPE, "wait_seconds", {"items": I, "wait_seconds": 1.5})
case(AIRS, BATCH, "wait_seconds as string", TYPE, "wait_seconds", {"items": I, "wait_seconds": "10"})
case(AIRS, BATCH, "wait_seconds 1e400", NUMBER, "wait_seconds", {"items": I, "wait_seconds": HUGE_INT})
case(AIRS, BATCH, "profile_id 101 chars", OVERSIZE, "profile_id", {"items": I, "profile_id": "i" * 101})
case(AIRS, BATCH, "profile_name not allowed", POLICY, "profile_name", {"items": I, "profile_name": "permissive"})
case(AIRS, BATCH, "metadata.app_name NUL", CONTROL, "metadata.app_name",
     {"items": I, "metadata": {"app_name": "a\x00"}})

RES = "pan_get_scan_results"
case(AIRS, RES, "scan_ids empty", MISSING, "scan_ids", {"scan_ids": []})
case(AIRS, RES, "scan_ids 101", OVERSIZE, "scan_ids", {"scan_ids": [f"id-{i}" for i in range(101)]})
case(AIRS, RES, "scan_id 37 chars", OVERSIZE, "scan_ids[0]", {"scan_ids": ["a" * 37]})
case(AIRS, RES, "scan_id with comma smuggles a second id", FORMAT, "scan_ids[1]", {"scan_ids": ["ok-1", "a,b"]})
case(AIRS, RES, "scan_id query injection", FORMAT, "scan_ids[0]", {"scan_ids": ["x&report_ids=y"]})
case(AIRS, RES, "scan_id path traversal", TRAVERSAL, "scan_ids[0]", {"scan_ids": ["../../v1/scan"]})
case(AIRS, RES, "scan_id encoded traversal", TRAVERSAL, "scan_ids[0]", {"scan_ids": ["%2e%2e%2fx"]})
case(AIRS, RES, "scan_id Cyrillic look-alike", UNICODE, "scan_ids[0]", {"scan_ids": [f"sc{CYR_A}n-1"]})
case(AIRS, RES, "scan_id NUL", CONTROL, "scan_ids[0]", {"scan_ids": ["abc\x00"]})
case(AIRS, RES, "scan_id empty", FORMAT, "scan_ids[0]", {"scan_ids": [""]})
case(AIRS, RES, "scan_ids as string", TYPE, "scan_ids", {"scan_ids": "a,b"})
case(AIRS, RES, "scan_id as number", TYPE, "scan_ids[0]", {"scan_ids": [1]})
case(AIRS, RES, "unknown argument", UNKNOWN, "report_ids", {"scan_ids": ["a"], "report_ids": ["b"]})

REP = "pan_get_scan_reports"
case(AIRS, REP, "report_ids missing", MISSING, "report_ids", {})
case(AIRS, REP, "report_ids null", MISSING, "report_ids", {"report_ids": None})
case(AIRS, REP, "report_ids 101", OVERSIZE, "report_ids", {"report_ids": [f"R{i}" for i in range(101)]})
case(AIRS, REP, "report_id 41 chars", OVERSIZE, "report_ids[0]", {"report_ids": ["R" * 41]})
case(AIRS, REP, "report_id query injection", FORMAT, "report_ids[0]", {"report_ids": ["R1&scan_ids=x"]})
case(AIRS, REP, "report_id newline", NEWLINE, "report_ids[1]", {"report_ids": ["R1", "R2\r\nX: y"]})
case(AIRS, REP, "report_id Cyrillic look-alike", UNICODE, "report_ids[0]", {"report_ids": [f"R{CYR_E}port"]})
case(AIRS, REP, "report_id slash", TRAVERSAL, "report_ids[0]", {"report_ids": ["R/../../admin"]})

# --- proxmox -------------------------------------------------------------------------------

EX = "execute_command"
C = {"node": "pve1"}
for label, cmd, what in [
    ("semicolon", "uptime; cat /etc/shadow", "`;`"),
    ("and-and", "qm list && id", "`&`"),
    ("pipe", "qm list | sh", "`|`"),
    ("dollar subshell", "qm status $(id -u)", "`$`"),
    ("backticks", "qm status `id`", "`"),
    ("redirect", "qm list > /etc/passwd", "`>`"),
    ("input redirect", "qm list < /etc/shadow", "`<`"),
    ("glob", "df /*", "`*`"),
    ("tilde", "df ~root", "`~`"),
    ("single quote", "qm status '100", "`'`"),
    ("double quote", 'qm status "100', '`"`'),
    ("backslash", "qm status 100\\", "`\\`"),
    ("hash comment", "qm list #", "`#`"),
    ("braces", "qm status {100,101}", "`{`"),
    ("bang", "qm list !!", "`!`"),
]:
    case(PVE, EX, f"command {label}", SHELL, "command", {**C, "command": cmd}, note=f"names {what} too")
case(PVE, EX, "command newline smuggling", NEWLINE, "command", {**C, "command": "qm list\nid"})
case(PVE, EX, "command carriage return", NEWLINE, "command", {**C, "command": "qm list\rid"})
case(PVE, EX, "command tab", CONTROL, "command", {**C, "command": "qm\tlist"})
case(PVE, EX, "command NUL", CONTROL, "command", {**C, "command": "qm list\x00; id"})
case(PVE, EX, "command fullwidth letter", UNICODE, "command", {**C, "command": "\uff55ptime"})
case(PVE, EX, "command Cyrillic look-alike", UNICODE, "command", {**C, "command": f"qm l{CYR_I}st"})
case(PVE, EX, "command 1025 bytes", OVERSIZE, "command", {**C, "command": "qm status " + "1" * 1015})
case(PVE, EX, "command 100 KiB", OVERSIZE, "command", {**C, "command": "df " + "x" * 102400})
case(PVE, EX, "command 33 words", OVERSIZE, "command", {**C, "command": "df" + " a" * 32})
case(PVE, EX, "command empty", MISSING, "command", {**C, "command": ""})
case(PVE, EX, "command only spaces", MISSING, "command", {**C, "command": "    "})
case(PVE, EX, "command null", MISSING, "command", {**C, "command": None})
case(PVE, EX, "command as argv array", TYPE, "command", {**C, "command": ["qm", "list"]})
case(PVE, EX, "command not on the allowlist", POLICY, "command", {**C, "command": "qm destroy 100"},
     names="command allowlist", note="documented: refused by policy: `qm destroy` is not on the command allowlist")
case(PVE, EX, "command shell not on the allowlist", POLICY, "command", {**C, "command": "sh -c id"},
     names="command allowlist", note="documented: the allowlist refusal names the command allowlist")
case(PVE, EX, "command denied argument", POLICY, "command", {**C, "command": "journalctl -n 1 --vacuum-size=1M"},
     names="`--vacuum-size=1M`", note="documented: the refusal names the denied argument, not the field")
# Flags are allowed per program: a letter harmless for one (`df -i`) is not for another.
case(PVE, EX, "journalctl -i (short --file)", POLICY, "command", {**C, "command": "journalctl -n 5 -i /etc/shadow"},
     names="the option `-i` is not allowed", note="documented: per-command flags; the refusal names the option")
case(PVE, EX, "systemctl -H (SSH to another host)", POLICY, "command",
     {**C, "command": "systemctl status -H root@10.0.0.9"}, names="the option `-H` is not allowed")
case(PVE, EX, "systemctl --host=", POLICY, "command", {**C, "command": "systemctl status --host=10.0.0.9"},
     names="the option `--host=10.0.0.9` is not allowed")
case(PVE, EX, "systemctl -M (another machine)", POLICY, "command", {**C, "command": "systemctl status -M other"},
     names="the option `-M` is not allowed")
case(PVE, EX, "journalctl --machine", POLICY, "command", {**C, "command": "journalctl -n 5 --machine=other"},
     names="the option `--machine=other` is not allowed")
case(PVE, EX, "pvesh by system path, denied API path", POLICY, "command",
     {**C, "command": "/usr/bin/pvesh get /access/users"}, names="the path /access/users is denied",
     note="documented: a program in a system directory is checked as its bare name")
case(PVE, EX, "program by another path", POLICY, "command", {**C, "command": "/tmp/qm list"},
     names="command allowlist", note="documented: a path outside the system directories matches only literally")
case(PVE, EX, "node not in PROXMOX_SSH_NODES", POLICY, "node", {"command": "uptime", "node": "pve2"})
case(PVE, EX, "node semicolon", SHELL, "node", {**C, "command": "uptime", "node": "pve1;id"})
case(PVE, EX, "node Cyrillic look-alike", UNICODE, "node", {"command": "uptime", "node": f"pv{CYR_E}1"})
case(PVE, EX, "node 64 chars", OVERSIZE, "node", {"command": "uptime", "node": "n" * 64})
case(PVE, EX, "node traversal", TRAVERSAL, "node", {"command": "uptime", "node": "../pve1"})
case(PVE, EX, "timeout_seconds 0", NUMBER, "timeout_seconds", {**C, "command": "uptime", "timeout_seconds": 0})
case(PVE, EX, "timeout_seconds 301", NUMBER, "timeout_seconds", {**C, "command": "uptime", "timeout_seconds": 301})
case(PVE, EX, "timeout_seconds negative", NUMBER, "timeout_seconds",
     {**C, "command": "uptime", "timeout_seconds": -1})
case(PVE, EX, "timeout_seconds as string", TYPE, "timeout_seconds",
     {**C, "command": "uptime", "timeout_seconds": "30"})
case(PVE, EX, "timeout_seconds float", TYPE, "timeout_seconds", {**C, "command": "uptime", "timeout_seconds": 1.5})
case(PVE, EX, "unknown argument shell", UNKNOWN, "shell", {**C, "command": "uptime", "shell": True})

LV = "list_vms"
case(PVE, LV, "name_filter semicolon", SHELL, "name_filter", {"name_filter": "web;"})
case(PVE, LV, "name_filter slash", TRAVERSAL, "name_filter", {"name_filter": "../web"})
case(PVE, LV, "name_filter 129 chars", OVERSIZE, "name_filter", {"name_filter": "w" * 129})
case(PVE, LV, "name_filter Cyrillic look-alike", UNICODE, "name_filter", {"name_filter": f"w{CYR_E}b"})
case(PVE, LV, "status unknown", ENUM, "status", {"status": "deleted"})
case(PVE, LV, "kind unknown", ENUM, "kind", {"kind": "vm"})
case(PVE, LV, "limit 0", NUMBER, "limit", {"limit": 0})
case(PVE, LV, "limit 501", NUMBER, "limit", {"limit": 501})
case(PVE, LV, "offset negative", NUMBER, "offset", {"offset": -1})
case(PVE, LV, "node traversal", TRAVERSAL, "node", {"node": "pve1/../../access"})

VS = "vm_status"
case(PVE, VS, "vmid 99", NUMBER, "vmid", {"vmid": 99})
case(PVE, VS, "vmid 1000000000", NUMBER, "vmid", {"vmid": 1_000_000_000})
case(PVE, VS, "vmid negative", NUMBER, "vmid", {"vmid": -100})
case(PVE, VS, "vmid as string", TYPE, "vmid", {"vmid": "100"})
case(PVE, VS, "vmid float", TYPE, "vmid", {"vmid": 100.5})
case(PVE, VS, "vmid 1e400", NUMBER, "vmid", {"vmid": HUGE_INT})
case(PVE, VS, "vmid null", MISSING, "vmid", {"vmid": None})
case(PVE, VS, "vmid NaN (the SDK sends null)", NUMBER, "vmid", {"vmid": float("nan")})
case(PVE, "vm_action", "vmid infinity (the SDK sends null)", NUMBER, "vmid", {"vmid": float("inf"), "action": "start"})
case(PVE, VS, "node shell metachar", SHELL, "node", {"vmid": 100, "node": "pve1;reboot"})

VA = "vm_action"
case(PVE, VA, "action destroy", ENUM, "action", {"vmid": 100, "action": "destroy"})
case(PVE, VA, "action chained", SHELL, "action", {"vmid": 100, "action": "start;stop"})
case(PVE, VA, "action as array", TYPE, "action", {"vmid": 100, "action": ["start"]})
case(PVE, VA, "action null", MISSING, "action", {"vmid": 100, "action": None})
case(PVE, VA, "vmid 0", NUMBER, "vmid", {"vmid": 0, "action": "start"})
case(PVE, VA, "vmid 1e400", NUMBER, "vmid", {"vmid": HUGE_INT, "action": "start"})
case(PVE, VA, "timeout_seconds 0", NUMBER, "timeout_seconds",
     {"vmid": 102, "action": "start", "wait": True, "timeout_seconds": 0})
case(PVE, VA, "timeout_seconds 601", NUMBER, "timeout_seconds",
     {"vmid": 102, "action": "start", "wait": True, "timeout_seconds": 601})
case(PVE, VA, "wait as string", TYPE, "wait", {"vmid": 102, "action": "start", "wait": "true"})
case(PVE, VA, "node Cyrillic look-alike", UNICODE, "node", {"vmid": 102, "action": "start", "node": f"pv{CYR_E}2"})
case(PVE, VA, "node newline", NEWLINE, "node", {"vmid": 102, "action": "start", "node": "pve2\n"})

LN = "list_nodes"
case(PVE, LN, "unknown argument path", UNKNOWN, "path", {"path": "/access/users"})

NS = "node_status"
case(PVE, NS, "node traversal", TRAVERSAL, "node", {"node": "pve1/../../access/users"})
case(PVE, NS, "node encoded traversal", TRAVERSAL, "node", {"node": "%2e%2e"})
case(PVE, NS, "node empty", FORMAT, "node", {"node": ""})
case(PVE, NS, "node 64 chars", OVERSIZE, "node", {"node": "p" * 64})
case(PVE, NS, "node NUL", CONTROL, "node", {"node": "pve1\x00"})
case(PVE, NS, "node as number", TYPE, "node", {"node": 1})
case(PVE, NS, "node missing", MISSING, "node", {})

TS = "task_status"
UPID = "UPID:pve2:00020000:000F4254:6B024679:vzstart:201:mcp@pve!mcp:"
case(PVE, TS, "upid traversal", TRAVERSAL, "upid", {"node": "pve2", "upid": "UPID:pve2:../../../access:x"})
case(PVE, TS, "upid 257 chars", OVERSIZE, "upid", {"node": "pve2", "upid": UPID + "x" * (257 - len(UPID))})
case(PVE, TS, "upid newline", NEWLINE, "upid", {"node": "pve2", "upid": UPID + "\n"})
case(PVE, TS, "upid not a UPID", FORMAT, "upid", {"node": "pve2", "upid": "hello"})
case(PVE, TS, "node query injection", FORMAT, "node", {"node": "pve2?x=1", "upid": UPID})

API = "proxmox_api"
G = {"method": "GET"}
case(PVE, API, "path dot-dot", TRAVERSAL, "path", {**G, "path": "/nodes/../access/users"})
case(PVE, API, "path encoded dot-dot", TRAVERSAL, "path", {**G, "path": "/nodes/%2e%2e/access/users"})
case(PVE, API, "path encoded slash", TRAVERSAL, "path", {**G, "path": "/nodes/pve1%2f..%2f..%2faccess"})
case(PVE, API, "path double-encoded dot-dot", TRAVERSAL, "path", {**G, "path": "/nodes/%252e%252e/access"})
case(PVE, API, "path double slash", TRAVERSAL, "path", {**G, "path": "//access/users"})
case(PVE, API, "path empty segment", TRAVERSAL, "path", {**G, "path": "/nodes//pve1"})
case(PVE, API, "path backslashes", TRAVERSAL, "path", {**G, "path": "/nodes\\..\\access\\users"})
case(PVE, API, "path dot segment", TRAVERSAL, "path", {**G, "path": "/./access/users"})
case(PVE, API, "path trailing dot-dot", TRAVERSAL, "path", {**G, "path": "/nodes/pve1/.."})
case(PVE, API, "path trailing slash", FORMAT, "path", {**G, "path": "/nodes/pve1/"})
case(PVE, API, "path without leading slash", FORMAT, "path", {**G, "path": "nodes/pve1"})
case(PVE, API, "path query", FORMAT, "path", {**G, "path": "/nodes/pve1/storage?content=iso"})
case(PVE, API, "path fragment", FORMAT, "path", {**G, "path": "/nodes/pve1/storage#x"})
case(PVE, API, "path absolute URL", FORMAT, "path", {**G, "path": "http://169.254.169.254/latest"})
case(PVE, API, "path 513 chars", OVERSIZE, "path", {**G, "path": "/nodes/" + "a" * 506})
case(PVE, API, "path Cyrillic look-alike", UNICODE, "path", {**G, "path": f"/n{CYR_O}des"})
case(PVE, API, "path NUL", CONTROL, "path", {**G, "path": "/nodes\x00/access"})
case(PVE, API, "path newline", NEWLINE, "path", {**G, "path": "/version\nGET /access/users"})
case(PVE, API, "path null", MISSING, "path", {**G, "path": None})
case(PVE, API, "path as number", TYPE, "path", {**G, "path": 1})
case(PVE, API, "path denied /access", POLICY, "path", {**G, "path": "/access/users"},
     names="the path /access/users", note="documented: refused by policy: the path /access/users is denied …")
case(PVE, API, "path denied, case-folded", POLICY, "path", {**G, "path": "/ACCESS/users"},
     names="path", note="documented: deny patterns ignore case")
case(PVE, API, "path denied guest agent exec", POLICY, "path",
     {"method": "POST", "path": "/nodes/pve1/qemu/100/agent/exec", "params": {"command": "id"}},
     names="the path /nodes/pve1/qemu/100/agent/exec")
# Writes that name a guest, or act on every guest, obey the VMID lists (the hostile server
# runs with PROXMOX_VMID_DENYLIST=9000-9999); refused before Proxmox is asked anything.
P = {"method": "POST"}
for label, args, fld, names in [
    ("stopall vms", {**P, "path": "/nodes/pve1/stopall", "params": {"vms": "100,9000"}}, "params.vms", None),
    ("stopall vms space list", {**P, "path": "/nodes/pve1/stopall", "params": {"vms": "100 9000"}}, "params.vms", None),
    ("vzdump vmid", {**P, "path": "/nodes/pve1/vzdump", "params": {"vmid": "9000", "mode": "stop"}}, "params.vmid", None),
    ("vzdump all", {**P, "path": "/nodes/pve1/vzdump", "params": {"all": 1}}, "params.all", None),
    ("restore over a guest", {**P, "path": "/nodes/pve2/qemu",
                              "params": {"vmid": 9000, "force": 1, "archive": "local:backup/x.vma.zst"}}, "params.vmid", None),
    ("clone to a denied VMID", {**P, "path": "/nodes/pve1/qemu/100/clone", "params": {"newid": 9005}}, "params.newid", None),
    ("HA resource in the path", {**P, "path": "/cluster/ha/resources/vm:9000/migrate", "params": {"node": "pve1"}},
     "path", "the path /cluster/ha/resources/vm:9000/migrate"),
    ("HA resource bare VMID", {"method": "PUT", "path": "/cluster/ha/resources/9000", "params": {"state": "stopped"}},
     "path", "the path /cluster/ha/resources/9000"),
    ("HA resource sid", {**P, "path": "/cluster/ha/resources", "params": {"sid": "ct:9000"}}, "params.sid", None),
    ("sendkey", {"method": "PUT", "path": "/nodes/pve2/qemu/9000/sendkey", "params": {"key": "ctrl-alt-delete"}},
     "path", "the path /nodes/pve2/qemu/9000/sendkey"),
    ("stopall without vms", {**P, "path": "/nodes/pve1/stopall"}, "path", "acts on every guest of node pve1"),
    ("startall without vms", {**P, "path": "/nodes/pve2/startall"}, "path", "acts on every guest of node pve2"),
    ("migrateall without vms", {**P, "path": "/nodes/pve1/migrateall", "params": {"target": "pve2"}}, "path",
     "acts on every guest"),
    ("bulk shutdown without vms", {**P, "path": "/cluster/bulk-action/guest/shutdown"}, "path", "acts on every guest"),
    ("node shutdown", {**P, "path": "/nodes/pve1/status", "params": {"command": "shutdown"}}, "path",
     "acts on every guest of node pve1"),
    ("change a stored backup job", {"method": "PUT", "path": "/cluster/backup/backup-1", "params": {"mode": "stop"}},
     "path", "acts on every guest"),
    ("HA group edit", {"method": "PUT", "path": "/cluster/ha/groups/prod", "params": {"nodes": "pve2"}}, "path",
     "acts on every guest"),
    ("vms not VMIDs", {**P, "path": "/nodes/pve1/stopall", "params": {"vms": "100,all"}}, "params.vms", None),
]:
    case(PVE, API, f"write naming guests: {label}", POLICY, fld, args, names=names,
         note="documented: the refusal names the parameter or the path" if names else "")
# Secret-named passthrough parameters (PVE names them cipassword, encryption-key, keyring,
# password, ...): refused here for another reason, and their values reach neither the
# refusal nor the log; the audit event records the parameters' names only.
SECRET_PARAMS = {"cipassword": "hostile-ci-pw-1", "encryption-key": "hostile-enc-key-2",
                 "keyring": "hostile-keyring-3", "password": "hostile-password-4"}
case(PVE, API, "secret-named params on a denied path", POLICY, "path",
     {**P, "path": "/access/users", "params": {"userid": "x@pve", **SECRET_PARAMS}},
     names="the path /access/users", secrets=tuple(SECRET_PARAMS.values()))
case(PVE, API, "secret-named params on a guest the VMID list denies", POLICY, "path",
     {"method": "PUT", "path": "/nodes/pve1/qemu/9000/config", "params": SECRET_PARAMS},
     names="9000", secrets=tuple(SECRET_PARAMS.values()))
case(PVE, API, "secret-named param with a newline", NEWLINE, "params.cipassword",
     {"method": "PUT", "path": "/nodes/pve1/qemu/100/config", "params": {"cipassword": "hostile-nl-5\nX-Injected: 1"}},
     secrets=("hostile-nl-5",))
case(PVE, API, "method PATCH", ENUM, "method", {"method": "PATCH", "path": "/version"})
case(PVE, API, "method with CRLF", NEWLINE, "method", {"method": "GET\r\nX", "path": "/version"})
case(PVE, API, "method missing", MISSING, "method", {"path": "/version"})
case(PVE, API, "params nested object", TYPE, "params.x", {**G, "path": "/version", "params": {"x": {"a": 1}}})
case(PVE, API, "params array value", TYPE, "params.x", {**G, "path": "/version", "params": {"x": [1, 2]}})
case(PVE, API, "params value newline", NEWLINE, "params.x", {**G, "path": "/version", "params": {"x": "a\nb"}})
case(PVE, API, "params name injection", FORMAT, "params.a&b=c", {**G, "path": "/version", "params": {"a&b=c": "1"}})
case(PVE, API, "params name 65 chars", OVERSIZE, "params." + "k" * 65,
     {**G, "path": "/version", "params": {"k" * 65: "1"}})
case(PVE, API, "params as array", TYPE, "params", {**G, "path": "/version", "params": ["a"]})
case(PVE, API, "unknown argument", UNKNOWN, "headers", {**G, "path": "/version", "headers": {"X": "y"}})

# Day-2 tools (snapshots, backups, config, storage/network/firewall/task reads): every
# parameter, each refused before Proxmox is asked anything.
VOLID = "local:backup/vzdump-lxc-200-2026_01_01-00_00_00.tar.zst"
for tool in ["list_snapshots", "guest_config"]:
    case(PVE, tool, "vmid 99", NUMBER, "vmid", {"vmid": 99})
    case(PVE, tool, "vmid as string", TYPE, "vmid", {"vmid": "100"})
    case(PVE, tool, "node traversal", TRAVERSAL, "node", {"vmid": 100, "node": "../pve1"})
    case(PVE, tool, "unknown argument keys", UNKNOWN, "keys", {"vmid": 100, "keys": ["cipassword"]})
SNAP_TOOLS = ["create_snapshot", "rollback_snapshot", "delete_snapshot"]
for tool in SNAP_TOOLS:
    S = {"vmid": 100, "name": "pre-upgrade"}
    case(PVE, tool, "vmid 0", NUMBER, "vmid", {**S, "vmid": 0})
    case(PVE, tool, "vmid 1e400", NUMBER, "vmid", {**S, "vmid": HUGE_INT})
    case(PVE, tool, "name traversal", TRAVERSAL, "name", {**S, "name": "../../config"})
    case(PVE, tool, "name shell metachar", SHELL, "name", {**S, "name": "a;rm"})
    case(PVE, tool, "name starts with a digit", FORMAT, "name", {**S, "name": "1st"})
    case(PVE, tool, "name current", FORMAT, "name", {**S, "name": "current"})
    case(PVE, tool, "name 41 chars", OVERSIZE, "name", {**S, "name": "a" * 41})
    case(PVE, tool, "name one character", FORMAT, "name", {**S, "name": "a"})
    case(PVE, tool, "name Cyrillic look-alike", UNICODE, "name", {**S, "name": f"pr{CYR_E}"})
    case(PVE, tool, "name newline", NEWLINE, "name", {**S, "name": "a\nb"})
    case(PVE, tool, "name null", MISSING, "name", {**S, "name": None})
    case(PVE, tool, "node query injection", FORMAT, "node", {**S, "node": "pve1?x=1"})
    case(PVE, tool, "wait_seconds 601", NUMBER, "wait_seconds", {**S, "wait_seconds": 601})
    case(PVE, tool, "wait_seconds negative", NUMBER, "wait_seconds", {**S, "wait_seconds": -1})
    case(PVE, tool, "dry_run as string", TYPE, "dry_run", {**S, "dry_run": "yes"})
    case(PVE, tool, "unknown argument force", UNKNOWN, "force", {**S, "force": True})
CS = "create_snapshot"
case(PVE, CS, "description NUL", CONTROL, "description", {"vmid": 100, "name": "ab", "description": "x\x00y"})
case(PVE, CS, "description 1025 chars", OVERSIZE, "description", {"vmid": 100, "name": "ab", "description": "d" * 1025})
case(PVE, CS, "include_ram as string", TYPE, "include_ram", {"vmid": 100, "name": "ab", "include_ram": "true"})
case(PVE, "rollback_snapshot", "start as number", TYPE, "start", {"vmid": 100, "name": "ab", "start": 2})
case(PVE, VA, "wait_seconds 601", NUMBER, "wait_seconds", {"vmid": 102, "action": "start", "wait_seconds": 601})
case(PVE, VA, "wait_seconds as string", TYPE, "wait_seconds", {"vmid": 102, "action": "start", "wait_seconds": "5"})
case(PVE, VA, "dry_run as string", TYPE, "dry_run", {"vmid": 102, "action": "start", "dry_run": "true"})
case(PVE, EX, "dry_run as string", TYPE, "dry_run", {**C, "command": "uptime", "dry_run": "yes"})
case(PVE, API, "dry_run as number", TYPE, "dry_run", {"method": "POST", "path": "/nodes/pve1/qemu/100/status/start", "dry_run": 1})

LB = "list_backups"
case(PVE, LB, "storage traversal", TRAVERSAL, "storage", {"storage": "../../etc"})
case(PVE, LB, "storage slash", TRAVERSAL, "storage", {"storage": "local/backup"})
case(PVE, LB, "storage 65 chars", OVERSIZE, "storage", {"storage": "s" * 65})
case(PVE, LB, "storage missing", MISSING, "storage", {})
case(PVE, LB, "node shell metachar", SHELL, "node", {"storage": "local", "node": "pve1|id"})
case(PVE, LB, "vmid 99", NUMBER, "vmid", {"storage": "local", "vmid": 99})
case(PVE, LB, "limit 501", NUMBER, "limit", {"storage": "local", "limit": 501})
case(PVE, LB, "offset negative", NUMBER, "offset", {"storage": "local", "offset": -1})

BG = "backup_guest"
B = {"vmid": 200}
case(PVE, BG, "vmid negative", NUMBER, "vmid", {"vmid": -200})
case(PVE, BG, "storage traversal", TRAVERSAL, "storage", {**B, "storage": "../local"})
case(PVE, BG, "storage Cyrillic look-alike", UNICODE, "storage", {**B, "storage": f"l{CYR_O}cal"})
case(PVE, BG, "mode live", ENUM, "mode", {**B, "mode": "live"})
case(PVE, BG, "mode injection", SHELL, "mode", {**B, "mode": "stop;id"})
case(PVE, BG, "compress xz", ENUM, "compress", {**B, "compress": "xz"})
case(PVE, BG, "protected as string", TYPE, "protected", {**B, "protected": "1"})
case(PVE, BG, "notes escape sequence", CONTROL, "notes", {**B, "notes": "a\x1b[31mred"})
case(PVE, BG, "notes 1025 chars", OVERSIZE, "notes", {**B, "notes": "n" * 1025})
case(PVE, BG, "node newline", NEWLINE, "node", {**B, "node": "pve1\n"})
case(PVE, BG, "wait_seconds 601", NUMBER, "wait_seconds", {**B, "wait_seconds": 601})
case(PVE, BG, "dry_run as number", TYPE, "dry_run", {**B, "dry_run": 1})
case(PVE, BG, "unknown argument all", UNKNOWN, "all", {**B, "all": True})

RB = "restore_backup"
R = {"volid": VOLID}
case(PVE, RB, "volid traversal", TRAVERSAL, "volid", {"volid": "local:backup/../../etc/pve/priv/authkey.key"})
case(PVE, RB, "volid not a backup", FORMAT, "volid", {"volid": "local:iso/debian.iso"})
case(PVE, RB, "volid shell metachar", SHELL, "volid", {"volid": VOLID + ";id"})
case(PVE, RB, "volid 256 chars", OVERSIZE, "volid", {"volid": VOLID + "x" * (256 - len(VOLID))})
case(PVE, RB, "volid missing", MISSING, "volid", {})
case(PVE, RB, "vmid 99", NUMBER, "vmid", {**R, "vmid": 99})
case(PVE, RB, "overwrite without vmid", POLICY, "overwrite", {**R, "overwrite": True})
case(PVE, RB, "overwrite as string", TYPE, "overwrite", {**R, "vmid": 300, "overwrite": "yes"})
case(PVE, RB, "storage traversal", TRAVERSAL, "storage", {**R, "storage": "../x"})
case(PVE, RB, "node Cyrillic look-alike", UNICODE, "node", {**R, "node": f"pv{CYR_E}1"})
case(PVE, RB, "wait_seconds 601", NUMBER, "wait_seconds", {**R, "wait_seconds": 601})
case(PVE, RB, "dry_run as string", TYPE, "dry_run", {**R, "dry_run": "no"})
case(PVE, RB, "restore over a denied VMID", POLICY, "vmid", {**R, "vmid": 9000, "overwrite": True},
     names="PROXMOX_VMID_DENYLIST", note="documented: the VMID lists bind restore targets")

SC = "set_guest_config"
case(PVE, SC, "hookscript", UNKNOWN, "hookscript", {"vmid": 100, "hookscript": "local:snippets/x.pl"})
case(PVE, SC, "args", UNKNOWN, "args", {"vmid": 100, "args": "-monitor stdio"})
case(PVE, SC, "PCI passthrough", UNKNOWN, "hostpci0", {"vmid": 100, "hostpci0": "0000:01:00.0"})
case(PVE, SC, "cipassword", UNKNOWN, "cipassword", {"vmid": 100, "cipassword": "hostile-cfg-pw-6"},
     secrets=("hostile-cfg-pw-6",))
case(PVE, SC, "vmid 99", NUMBER, "vmid", {"vmid": 99, "cores": 2})
case(PVE, SC, "cores 0", NUMBER, "cores", {"vmid": 100, "cores": 0})
case(PVE, SC, "cores 513", NUMBER, "cores", {"vmid": 100, "cores": 513})
case(PVE, SC, "cores as string", TYPE, "cores", {"vmid": 100, "cores": "4"})
case(PVE, SC, "memory 8", NUMBER, "memory", {"vmid": 100, "memory": 8})
case(PVE, SC, "memory 1e400", NUMBER, "memory", {"vmid": 100, "memory": HUGE_INT})
case(PVE, SC, "description NUL", CONTROL, "description", {"vmid": 100, "description": "a\x00b"})
case(PVE, SC, "description 8193 chars", OVERSIZE, "description", {"vmid": 100, "description": "d" * 8193})
case(PVE, SC, "tags with a space", FORMAT, "tags", {"vmid": 100, "tags": ["a b"]})
case(PVE, SC, "tags separator smuggling", FORMAT, "tags", {"vmid": 100, "tags": ["web;protected"]})
case(PVE, SC, "tags as string", TYPE, "tags", {"vmid": 100, "tags": "web"})
case(PVE, SC, "onboot as string", TYPE, "onboot", {"vmid": 100, "onboot": "1"})
case(PVE, SC, "nothing to set", MISSING, "cores", {"vmid": 100},
     note="documented: the refusal names the first settable key")
case(PVE, SC, "node traversal", TRAVERSAL, "node", {"vmid": 100, "cores": 2, "node": "../pve1"})
case(PVE, SC, "dry_run as string", TYPE, "dry_run", {"vmid": 100, "cores": 2, "dry_run": "true"})

for tool in ["list_storage", "list_networks"]:
    case(PVE, tool, "node traversal", TRAVERSAL, "node", {"node": "pve1/../../access"})
    case(PVE, tool, "node NUL", CONTROL, "node", {"node": "pve1\x00"})
    case(PVE, tool, "unknown argument type", UNKNOWN, "storage_type", {"storage_type": "dir"})
FW = "list_firewall_rules"
case(PVE, FW, "node shell metachar", SHELL, "node", {"node": "pve1`id`"})
case(PVE, FW, "vmid 99", NUMBER, "vmid", {"vmid": 99})
case(PVE, FW, "vmid as string", TYPE, "vmid", {"vmid": "100"})
LT = "list_tasks"
case(PVE, LT, "node traversal", TRAVERSAL, "node", {"node": "../pve1"})
case(PVE, LT, "vmid 99", NUMBER, "vmid", {"vmid": 99})
case(PVE, LT, "type query injection", FORMAT, "type", {"type": "vzdump&userfilter=root"})
case(PVE, LT, "type 33 chars", OVERSIZE, "type", {"type": "t" * 33})
case(PVE, LT, "limit 0", NUMBER, "limit", {"limit": 0})
case(PVE, LT, "limit 501", NUMBER, "limit", {"limit": 501})
TL = "task_log"
case(PVE, TL, "upid traversal", TRAVERSAL, "upid", {"upid": "UPID:pve2:../../../etc:x"})
case(PVE, TL, "upid newline", NEWLINE, "upid", {"upid": UPID + "\n"})
case(PVE, TL, "upid missing", MISSING, "upid", {})
case(PVE, TL, "lines 0", NUMBER, "lines", {"upid": UPID, "lines": 0})
case(PVE, TL, "lines 1001", NUMBER, "lines", {"upid": UPID, "lines": 1001})

# --- aws-whitelist -------------------------------------------------------------------------

SG = "sg-0123456789abcdef0"  # well-formed; never reached, every case is refused before AWS
W = {"cidr": "203.0.113.7", "target": SG, "port": "ssh", "description": "hardening test"}
WL = "whitelist"
for label, cidr in [
    ("whole internet v4", "0.0.0.0/0"),
    ("whole internet v6", "::/0"),
    ("IPv4-mapped IPv6", "::ffff:1.2.3.4"),
    ("IPv4-mapped IPv6 public", "::ffff:203.0.113.7"),
    ("leading zeros", "010.1.1.1"),
    ("leading zero last octet", "203.0.113.07"),
    ("prefix with leading zero", "203.0.113.0/024"),
    ("private range", "10.1.2.3"),
    ("loopback", "127.0.0.1"),
    ("link-local metadata address", "169.254.169.254"),
    ("multicast", "224.0.0.1"),
    ("shared address space", "100.64.0.1"),
    ("unspecified address", "0.0.0.0"),
    ("mixed broad range", "8.0.0.0/5"),
    ("broader than /24", "203.0.0.0/16"),
    ("broader than /64 v6", "2001:db8::/32"),
    ("IPv6 ULA", "fd00::1"),
    ("IPv6 loopback", "::1"),
    ("prefix 33", "203.0.113.7/33"),
    ("not an address", "not-an-ip"),
    ("shell suffix", "203.0.113.7; rm -rf /"),
    ("two addresses", "203.0.113.7,198.51.100.1"),
    ("fullwidth digits", "\uff12\uff10\uff13.0.113.7"),
    ("newline", "203.0.113.7\n0.0.0.0/0"),
    ("NUL", "203.0.113.7\x00"),
    ("100 KiB", "1" * 102400),
    ("empty", ""),
]:
    case(AWS, WL, f"cidr {label}", CIDR, "cidr", {**W, "cidr": cidr})
case(AWS, WL, "cidr as number", TYPE, "cidr", {**W, "cidr": 3405803783})
case(AWS, WL, "cidr null", MISSING, "cidr", {**W, "cidr": None})
case(AWS, WL, "target malformed group id", FORMAT, "target", {**W, "target": "sg-123"})
case(AWS, WL, "target upper-case group id", FORMAT, "target", {**W, "target": "sg-0123456789ABCDEF0"})
case(AWS, WL, "target Cyrillic look-alike", UNICODE, "target", {**W, "target": f"sg-0123456789{CYR_A}bcdef0"})
case(AWS, WL, "target rds traversal", TRAVERSAL, "target", {**W, "target": "rds:../../db"})
case(AWS, WL, "target rds semicolon", SHELL, "target", {**W, "target": "rds:db;drop"})
case(AWS, WL, "target elb ARN with space", FORMAT, "target", {**W, "target": "elb:arn:aws:elasticloadbalancing x"})
case(AWS, WL, "target unknown kind", FORMAT, "target", {**W, "target": "s3:bucket"})
case(AWS, WL, "target 100 KiB", OVERSIZE, "target", {**W, "target": "rds:" + "d" * 102400})
case(AWS, WL, "port 99999", NUMBER, "port", {**W, "port": "99999"})
case(AWS, WL, "port negative", NUMBER, "port", {**W, "port": "-1"})
case(AWS, WL, "port unknown name", FORMAT, "port", {**W, "port": "telnet"})
case(AWS, WL, "port range not allowed", POLICY, "port", {**W, "port": "22-23"},
     note="port takes a range too (documented); 22-23 is not inside an allowed entry")
case(AWS, WL, "port not allowed", POLICY, "port", {**W, "port": "8080"})
# A JSON number is a port too (443 is accepted); these numbers are not ports.
case(AWS, WL, "port number not allowed", POLICY, "port", {**W, "port": 8080})
case(AWS, WL, "port number 0", NUMBER, "port", {**W, "port": 0})
case(AWS, WL, "port number 65536", NUMBER, "port", {**W, "port": 65536})
case(AWS, WL, "port number negative", NUMBER, "port", {**W, "port": -1})
case(AWS, WL, "port number fractional", NUMBER, "port", {**W, "port": 1.5})
case(AWS, WL, "port number fractional 22.5", NUMBER, "port", {**W, "port": 22.5})
case(AWS, WL, "port number 1e400", NUMBER, "port", {**W, "port": HUGE_INT})
case(AWS, WL, "port as boolean", TYPE, "port", {**W, "port": True})
case(AWS, WL, "port as array", TYPE, "port", {**W, "port": [22]})
case(AWS, WL, "port as object", TYPE, "port", {**W, "port": {"port": 22}})
case(AWS, WL, "port string 0", NUMBER, "port", {**W, "port": "0"})
case(AWS, WL, "port string 65536", NUMBER, "port", {**W, "port": "65536"})
case(AWS, WL, "port string fractional", FORMAT, "port", {**W, "port": "22.5"})
case(AWS, WL, "port string hex", FORMAT, "port", {**W, "port": "0x16"})
case(AWS, WL, "port string plus sign", FORMAT, "port", {**W, "port": "+22"})
case(AWS, WL, "port string open range", FORMAT, "port", {**W, "port": "22-"})
case(AWS, WL, "port string reversed range", FORMAT, "port", {**W, "port": "23-22"})
case(AWS, WL, "port string empty", FORMAT, "port", {**W, "port": ""})
case(AWS, WL, "port string blank", FORMAT, "port", {**W, "port": "  "})
case(AWS, WL, "port string shell suffix", SHELL, "port", {**W, "port": "22; rm -rf /"})
case(AWS, WL, "port string newline", NEWLINE, "port", {**W, "port": "22\n3389"})
case(AWS, WL, "port string NUL", CONTROL, "port", {**W, "port": "ssh\x00"})
case(AWS, WL, "port string terminal escape", CONTROL, "port", {**W, "port": "\x1b[2J22"})
case(AWS, WL, "port string fullwidth digits", UNICODE, "port", {**W, "port": "\uff12\uff12"})
case(AWS, WL, "port string Cyrillic name", UNICODE, "port", {**W, "port": f"ss{CYR_I}h"})
case(AWS, WL, "port string 100 KiB", OVERSIZE, "port", {**W, "port": "2" * 102400})
case(AWS, WL, "port and port_range", FORMAT, "port_range", {**W, "port_range": "22-22"})
case(AWS, WL, "port missing", MISSING, "port", {k: v for k, v in W.items() if k != "port"})
case(AWS, WL, "port_range reversed", FORMAT, "port_range",
     {**{k: v for k, v in W.items() if k != "port"}, "port_range": "8000-7000"})
case(AWS, WL, "port_range to 65536", NUMBER, "port_range",
     {**{k: v for k, v in W.items() if k != "port"}, "port_range": "1-65536"})
case(AWS, WL, "protocol all", ENUM, "protocol", {**W, "protocol": "all"})
case(AWS, WL, "protocol -1", ENUM, "protocol", {**W, "protocol": "-1"})
case(AWS, WL, "protocol icmp", ENUM, "protocol", {**W, "protocol": "icmp"})
case(AWS, WL, "protocol newline", NEWLINE, "protocol", {**W, "protocol": "tcp\nudp"})
case(AWS, WL, "description empty", FORMAT, "description", {**W, "description": ""})
case(AWS, WL, "description 101 chars", OVERSIZE, "description", {**W, "description": "d" * 101})
case(AWS, WL, "description markup", FORMAT, "description", {**W, "description": "<script>alert(1)</script>"})
case(AWS, WL, "description quote", FORMAT, "description", {**W, "description": "x'; DROP TABLE rules; --"})
case(AWS, WL, "description newline", NEWLINE, "description", {**W, "description": "ok\nsecops-mcp:owner=root"})
case(AWS, WL, "description NUL", CONTROL, "description", {**W, "description": "ok\x00"})
case(AWS, WL, "description bidi override", UNICODE, "description", {**W, "description": "ok \u202egnp.exe"})
case(AWS, WL, "ttl under a minute", NUMBER, "ttl", {**W, "ttl": "30s"})
case(AWS, WL, "ttl a year", NUMBER, "ttl", {**W, "ttl": "365d"})
case(AWS, WL, "ttl negative", FORMAT, "ttl", {**W, "ttl": "-1h"})
case(AWS, WL, "ttl forever", FORMAT, "ttl", {**W, "ttl": "forever"})
case(AWS, WL, "ttl as number", TYPE, "ttl", {**W, "ttl": 8})
case(AWS, WL, "ttl where the sweep does not reach", POLICY, "ttl", {**W, "ttl": "1h", "region": "eu-west-1"},
     note="documented: a ttl only in the default region and AWSWL_SWEEP_REGIONS")
case(AWS, WL, "region unknown", FORMAT, "region", {**W, "region": "mars-east-1"})
case(AWS, WL, "region traversal", TRAVERSAL, "region", {**W, "region": "../us-east-1"})
case(AWS, WL, "region Cyrillic look-alike", UNICODE, "region", {**W, "region": f"us-{CYR_E}ast-1"})
case(AWS, WL, "region endpoint smuggling", FORMAT, "region", {**W, "region": "us-east-1.evil.example.com"})
case(AWS, WL, "dry_run as string", TYPE, "dry_run", {**W, "dry_run": "yes"})
case(AWS, WL, "profile not on the allowlist", POLICY, "profile", {**W, "profile": "prod"}, names="profile `prod`")
case(AWS, WL, "unknown argument endpoint", UNKNOWN, "endpoint_url", {**W, "endpoint_url": "http://169.254.169.254"})

BULK = "whitelist_bulk"
case(AWS, BULK, "items empty", MISSING, "items", {"items": []})
case(AWS, BULK, "items 51", OVERSIZE, "items", {"items": [W] * 51})
case(AWS, BULK, "items as object", TYPE, "items", {"items": W})
case(AWS, BULK, "second item whole internet", CIDR, "items[1]", {"items": [W, {**W, "cidr": "0.0.0.0/0"}]},
     names="items[1]: `cidr`", note="documented: refused by policy: items[1]: `cidr` 0.0.0.0/0 …")
case(AWS, BULK, "item port unknown name", FORMAT, "items[1].port", {"items": [W, {**W, "port": "telnet"}]})
case(AWS, BULK, "item port number 0", NUMBER, "items[1].port", {"items": [W, {**W, "port": 0}]})
case(AWS, BULK, "item port number fractional", NUMBER, "items[0].port", {"items": [{**W, "port": 1.5}]})
case(AWS, BULK, "item port number negative", NUMBER, "items[0].port", {"items": [{**W, "port": -22}]})
case(AWS, BULK, "item port string newline", NEWLINE, "items[0].port", {"items": [{**W, "port": "22\n"}]})
case(AWS, BULK, "item missing description", MISSING, "items[2].description",
     {"items": [W, W, {k: v for k, v in W.items() if k != "description"}]})
case(AWS, BULK, "item unknown field", UNKNOWN, "items[0].owner", {"items": [{**W, "owner": "root"}]})
case(AWS, BULK, "item IPv4-mapped IPv6", CIDR, "items[0].cidr", {"items": [{**W, "cidr": "::ffff:1.2.3.4"}]})
case(AWS, BULK, "item description newline", NEWLINE, "items[0].description",
     {"items": [{**W, "description": "a\nb"}]})
case(AWS, BULK, "item as string", TYPE, "items[0]", {"items": ["203.0.113.7"]})

RM = "remove_whitelist"
R = {"cidr": "203.0.113.7", "port": "ssh", "target": SG}
case(AWS, RM, "rule id malformed", FORMAT, "rule_ids[0]", {"rule_ids": ["sgr-xyz"]})
case(AWS, RM, "rule id injection", SHELL, "rule_ids[1]", {"rule_ids": ["sgr-0123456789abcdef0", "sgr-0123;drop"]})
case(AWS, RM, "rule id Cyrillic", UNICODE, "rule_ids[0]", {"rule_ids": [f"sgr-0123456789{CYR_A}bcdef0"]})
case(AWS, RM, "rule_ids 101", OVERSIZE, "rule_ids", {"rule_ids": ["sgr-0123456789abcdef0"] * 101})
case(AWS, RM, "rule_ids as string", TYPE, "rule_ids", {"rule_ids": "sgr-0123456789abcdef0"})
case(AWS, RM, "cidr IPv4-mapped IPv6", CIDR, "cidr", {**R, "cidr": "::ffff:1.2.3.4"})
case(AWS, RM, "cidr leading zeros", CIDR, "cidr", {**R, "cidr": "010.1.1.1"})
case(AWS, RM, "target malformed", FORMAT, "target", {**R, "target": "sg-zzz"})
case(AWS, RM, "protocol icmp", ENUM, "protocol", {**R, "protocol": "icmp"})
case(AWS, RM, "region unknown", FORMAT, "region", {**R, "region": "mars-east-1"})
case(AWS, RM, "dry_run as number", TYPE, "dry_run", {**R, "dry_run": 1})
case(AWS, RM, "nothing to remove", MISSING, "cidr", {})
case(AWS, RM, "port number 0", NUMBER, "port", {**R, "port": 0})
case(AWS, RM, "port number 65536", NUMBER, "port", {**R, "port": 65536})
case(AWS, RM, "port number negative", NUMBER, "port", {**R, "port": -1})
case(AWS, RM, "port number fractional", NUMBER, "port", {**R, "port": 1.5})
case(AWS, RM, "port string newline", NEWLINE, "port", {**R, "port": "22\nssh"})
case(AWS, RM, "port string 65536", NUMBER, "port", {**R, "port": "65536"})
case(AWS, RM, "rule_ids and cidr", FORMAT, "rule_ids", {**R, "rule_ids": ["sgr-0123456789abcdef0"]})

SW = "sweep_expired"
case(AWS, SW, "region unknown", FORMAT, "region", {"region": "mars-east-1"})
case(AWS, SW, "region NUL", CONTROL, "region", {"region": "us-east-1\x00"})
case(AWS, SW, "region newline", NEWLINE, "region", {"region": "us-east-1\nus-west-2"})
case(AWS, SW, "dry_run as string", TYPE, "dry_run", {"dry_run": "no"})
case(AWS, SW, "profile newline", POLICY, "profile", {"profile": "default\nadmin"}, names="profile `",
     note="documented: refused by policy: profile `X` is not on the allowlist (AWSWL_PROFILES: …)")
case(AWS, SW, "unknown argument older_than", UNKNOWN, "older_than", {"older_than": "0s"})

LSG = "list_security_groups"
case(AWS, LSG, "vpc_id malformed", FORMAT, "vpc_id", {"vpc_id": "vpc-xyz!"})
case(AWS, LSG, "tag without equals", FORMAT, "tag", {"tag": "env"})
case(AWS, LSG, "tag key 129 chars", OVERSIZE, "tag", {"tag": "k" * 129 + "=v"})
case(AWS, LSG, "tag NUL", CONTROL, "tag", {"tag": "env=prod\x00"})
case(AWS, LSG, "group id malformed", FORMAT, "group_ids[0]", {"group_ids": ["sg-1"]})
case(AWS, LSG, "group id filter injection", FORMAT, "group_ids[1]", {"group_ids": [SG, "sg-1,sg-2"]})
case(AWS, LSG, "group_ids 201", OVERSIZE, "group_ids", {"group_ids": [SG] * 201})
case(AWS, LSG, "limit 0", NUMBER, "limit", {"limit": 0})
case(AWS, LSG, "limit 201", NUMBER, "limit", {"limit": 201})
case(AWS, LSG, "limit negative", NUMBER, "limit", {"limit": -1})
case(AWS, LSG, "offset 1e400", NUMBER, "offset", {"offset": HUGE_INT})
case(AWS, LSG, "region unknown", FORMAT, "region", {"region": "mars-east-1"})
case(AWS, LSG, "name NUL", CONTROL, "name", {"name": "x\x00y"})
case(AWS, LSG, "name 256 chars", OVERSIZE, "name", {"name": "n" * 256})

FSG = "find_security_group"
case(AWS, FSG, "resource rds injection", SHELL, "resource", {"resource": "rds:x;y"})
case(AWS, FSG, "resource Cyrillic", UNICODE, "resource", {"resource": f"rds:st{CYR_A}ging-db"})
case(AWS, FSG, "tag empty key", FORMAT, "tag", {"tag": "=v"})
case(AWS, FSG, "resource 100 KiB", OVERSIZE, "resource", {"resource": "ec2:i-" + "0" * 102400})
case(AWS, FSG, "region unknown", FORMAT, "region", {"resource": SG, "region": "mars-east-1"})
case(AWS, FSG, "resource and name", MISSING, "resource", {"resource": SG, "name": "staging-db"})
case(AWS, FSG, "nothing to find by", MISSING, "resource", {})
case(AWS, FSG, "name newline", NEWLINE, "name", {"name": "staging-db\nx"},
     note="list_security_groups refuses control characters in `name`")
case(AWS, FSG, "name NUL", CONTROL, "name", {"name": "staging-db\x00"})
case(AWS, FSG, "name 100 KiB", OVERSIZE, "name", {"name": "n" * 102400},
     note="list_security_groups refuses a `name` over 255 characters")

LR = "list_rules"
case(AWS, LR, "target missing", MISSING, "target", {})
case(AWS, LR, "target malformed", FORMAT, "target", {"target": "sg-1"})
case(AWS, LR, "target Cyrillic", UNICODE, "target", {"target": f"rds:d{CYR_A}"})
case(AWS, LR, "target ec2 newline", NEWLINE, "target", {"target": "ec2:i-0123456789abcdef0\n"})
case(AWS, LR, "target as array", TYPE, "target", {"target": [SG]})
case(AWS, LR, "region unknown", FORMAT, "region", {"target": SG, "region": "mars-east-1"})

case(AWS, "get_my_ip", "unknown argument url (SSRF)", UNKNOWN, "url", {"url": "http://169.254.169.254/latest/meta-data/"})
case(AWS, "list_profiles", "unknown argument path", UNKNOWN, "path", {"path": "/root/.aws/credentials"})
case(AWS, "test_credentials", "region unknown", FORMAT, "region", {"region": "mars-east-1"})
case(AWS, "test_credentials", "region newline", NEWLINE, "region", {"region": "us-east-1\n"})
case(AWS, "test_credentials", "region terminal escape", CONTROL, "region", {"region": "\x1b[2Jus-east-1"})
case(AWS, "test_credentials", "profile 5000 chars", POLICY, "profile", {"profile": "p" * 5000}, names="profile `")
case(AWS, "test_credentials", "unknown argument access_key", UNKNOWN, "access_key_id", {"access_key_id": "AKIA0000"})
case(AWS, "capabilities", "unknown argument", UNKNOWN, "max_prefix_v4", {"max_prefix_v4": 0})
case(AWS, "health", "unknown argument endpoint", UNKNOWN, "endpoint", {"endpoint": "http://169.254.169.254"})

CA = "check_access"
A = {"address": "203.0.113.7", "port": 443, "target": SG}
case(AWS, CA, "address network", CIDR, "address", {**A, "address": "203.0.113.0/24"})
case(AWS, CA, "address not an IP", FORMAT, "address", {**A, "address": "not-an-ip"})
case(AWS, CA, "address shell suffix", SHELL, "address", {**A, "address": "203.0.113.7; id"})
case(AWS, CA, "address newline", NEWLINE, "address", {**A, "address": "203.0.113.7\n10.0.0.1"})
case(AWS, CA, "address NUL", CONTROL, "address", {**A, "address": "203.0.113.7\x00"})
case(AWS, CA, "address fullwidth digits", UNICODE, "address", {**A, "address": "\uff12\uff10\uff13.0.113.7"})
case(AWS, CA, "address 100 KiB", OVERSIZE, "address", {**A, "address": "1" * 102400})
case(AWS, CA, "address as number", TYPE, "address", {**A, "address": 3405803783})
case(AWS, CA, "address missing", MISSING, "address", {k: v for k, v in A.items() if k != "address"})
case(AWS, CA, "port missing for tcp", MISSING, "port", {k: v for k, v in A.items() if k != "port"})
case(AWS, CA, "port range", FORMAT, "port", {**A, "port": "8000-8100"})
case(AWS, CA, "port 0", NUMBER, "port", {**A, "port": 0})
case(AWS, CA, "port 65536", NUMBER, "port", {**A, "port": 65536})
case(AWS, CA, "port unknown name", FORMAT, "port", {**A, "port": "telnet"})
case(AWS, CA, "port as array", TYPE, "port", {**A, "port": [443]})
case(AWS, CA, "icmp type 300", NUMBER, "port", {**A, "protocol": "icmp", "port": 300})
case(AWS, CA, "protocol unknown", ENUM, "protocol", {**A, "protocol": "gre"})
case(AWS, CA, "protocol -1", ENUM, "protocol", {**A, "protocol": "-1"})
case(AWS, CA, "icmpv6 for an IPv4 address", ENUM, "protocol", {**A, "protocol": "icmpv6", "port": None})
case(AWS, CA, "protocol terminal escape", CONTROL, "protocol", {**A, "protocol": "\x1b[2Jtcp"})
case(AWS, CA, "target traversal", TRAVERSAL, "target", {**A, "target": "rds:../../db"})
case(AWS, CA, "target Cyrillic look-alike", UNICODE, "target", {**A, "target": f"sg-0123456789{CYR_A}bcdef0"})
case(AWS, CA, "target unknown kind", FORMAT, "target", {**A, "target": "s3:bucket"})
case(AWS, CA, "region unknown", FORMAT, "region", {**A, "region": "mars-east-1"})
case(AWS, CA, "profile 5000 chars", POLICY, "profile", {**A, "profile": "p" * 5000}, names="profile `")
case(AWS, CA, "unknown argument nacl", UNKNOWN, "nacl", {**A, "nacl": True})


# --- the change tools of the two-person rule (every server with a write tool) ----------------
# mcp-core adds list_changes, approve_change and apply_change under MCP_APPROVALS=required,
# which the hardening suite turns on for these servers (hardening_support.start_target). A
# change id is a UUID as the write returned it; a digest is `sha256:` and 64 hex digits.

CHANGE_ID = "0f8fad5b-d9cb-469f-a165-70867728950e"
CHANGE_DIGEST = "sha256:" + "0" * 64


def change_tools(server: str) -> None:
    ok = {"change_id": CHANGE_ID, "digest": CHANGE_DIGEST}
    case(server, "list_changes", "unknown argument status", UNKNOWN, "status", {"status": "pending"})
    case(server, "approve_change", "change_id path traversal", TRAVERSAL, "change_id",
         {**ok, "change_id": "../../changes/" + CHANGE_ID})
    case(server, "approve_change", "change_id XPath", XPATH, "change_id", {**ok, "change_id": "*[1] | //change"})
    case(server, "approve_change", "change_id newline", NEWLINE, "change_id", {**ok, "change_id": CHANGE_ID[:35] + "\n"})
    case(server, "approve_change", "change_id as number", TYPE, "change_id", {**ok, "change_id": 7})
    case(server, "approve_change", "change_id missing", MISSING, "change_id", {"digest": CHANGE_DIGEST})
    case(server, "approve_change", "digest without sha256:", FORMAT, "digest", {**ok, "digest": "0" * 64})
    case(server, "approve_change", "digest md5", FORMAT, "digest", {**ok, "digest": "md5:" + "0" * 32})
    case(server, "approve_change", "digest 100 KiB", OVERSIZE, "digest", {**ok, "digest": "sha256:" + "0" * 102400})
    case(server, "approve_change", "digest missing", MISSING, "digest", {"change_id": CHANGE_ID})
    case(server, "approve_change", "unknown argument approver", UNKNOWN, "approver", {**ok, "approver": "root"})
    case(server, "apply_change", "change_id NUL", CONTROL, "change_id", {"change_id": CHANGE_ID[:35] + "\x00"})
    case(server, "apply_change", "change_id Cyrillic look-alike", UNICODE, "change_id",
         {"change_id": CHANGE_ID[:34] + CYR_E})
    case(server, "apply_change", "change_id shell", SHELL, "change_id", {"change_id": CHANGE_ID[:30] + ";id #"})
    case(server, "apply_change", "change_id null", MISSING, "change_id", {"change_id": None})
    case(server, "apply_change", "unknown argument arguments", UNKNOWN, "arguments",
         {"change_id": CHANGE_ID, "arguments": {"action": "stop"}})


for _server in (NGFW, PVE, AWS):
    change_tools(_server)


# --- sanity of the table itself ----------------------------------------------------------

def _check_table() -> None:
    ids = [c.id for c in CASES]
    dup = {i for i in ids if ids.count(i) > 1}
    assert not dup, f"duplicate case ids: {sorted(dup)}"
    for c in CASES:
        assert c.server in SERVERS, c
        assert c.category in CATEGORIES, c


_check_table()
