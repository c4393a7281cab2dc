#!/usr/bin/env python3
"""Start fakepve (a fake Proxmox VE API) as a test peer for the proxmox MCP server.

fakepve (PyPI `fakepve`, AGPL-3.0-or-later) is used only as an installed package, run in this
separate process through its public Python API (fakepve.FakePve, fakepve.certs.make_cert); none of
its code is copied here. See tests/peers/FAKEPVE.md for what it answers and its quirks.

    .venv/bin/python tests/peers/fakepve_launcher.py \
        --token-id 'mcp@pve!ci' --token-secret 5ec2e7... --cert-out /tmp/x/pve.pem --seed

The first line on stdout is exactly

    listening on https://127.0.0.1:PORT sha256=AB:CD:...

(the SHA-256 fingerprint of the DER certificate, upper-case hex pairs joined by ':'); nothing else
is written to stdout. The process then serves until SIGTERM or SIGINT, and exits 0.
"""

import argparse
import asyncio
import hashlib
import ipaddress
import os
import shutil
import signal
import sys
import tempfile

try:
    from fakepve import FakePve
    from fakepve.certs import make_cert
except ImportError as exc:  # pragma: no cover - an install problem, said plainly
    sys.exit("fakepve_launcher: needs fakepve[crypto] (pip install -r tests/peers/requirements.txt): {0}".format(exc))

# What the token may do unless --privs says otherwise: see the VMs, containers, nodes, storages and
# tasks, and power-manage the guests. (fakepve checks privileges the way its PVE schema states them.)
DEFAULT_PRIVS = ('VM.Audit', 'VM.PowerMgmt', 'Sys.Audit', 'Datastore.Audit', 'Pool.Audit')

# --seed: the known inventory (documented in tests/peers/FAKEPVE.md; keep the two in step).
SEED_NODES = ('pve1', 'pve2')
SEED_VMS = (
    # vmid, name, node, status, config
    (100, 'web01', 'pve1', 'running',
     {'cores': 2, 'sockets': 1, 'memory': 2048, 'ostype': 'l26', 'tags': 'prod;web',
      'scsi0': 'local-lvm:vm-100-disk-0,size=32G', 'net0': 'virtio=BC:24:11:00:01:00,bridge=vmbr0'}),
    (101, 'db01', 'pve1', 'stopped',
     {'cores': 4, 'sockets': 1, 'memory': 4096, 'ostype': 'l26',
      'scsi0': 'local-lvm:vm-101-disk-0,size=64G', 'net0': 'virtio=BC:24:11:00:01:01,bridge=vmbr0'}),
    (110, 'build01', 'pve2', 'running',
     {'cores': 1, 'sockets': 1, 'memory': 1024, 'ostype': 'l26',
      'scsi0': 'local-lvm:vm-110-disk-0,size=16G'}),
)
SEED_CTS = (
    # vmid, hostname, node, status
    (200, 'dns01', 'pve1', 'running'),
    (201, 'cache01', 'pve2', 'stopped'),
)


def fingerprint(der):
    """SHA-256 of the DER certificate as AB:CD:... (upper case)."""
    digest = hashlib.sha256(der).hexdigest().upper()
    return ':'.join(digest[i:i + 2] for i in range(0, len(digest), 2))


def token_arg(text):
    """ID=SECRET[:PRIV,PRIV,...] for --extra-token."""
    ident, sep, rest = text.partition('=')
    if not sep or '!' not in ident or not rest:
        raise argparse.ArgumentTypeError('expected USER@REALM!ID=SECRET[:PRIV,...], got {0!r}'.format(text))
    secret, _, privs = rest.partition(':')
    return ident, secret, tuple(p for p in privs.split(',') if p)


def token_id_arg(text):
    user, bang, name = text.partition('!')
    if not bang or '@' not in user or not name:
        raise argparse.ArgumentTypeError('expected USER@REALM!ID, got {0!r}'.format(text))
    return text


def loopback_host(text):
    try:
        ok = ipaddress.ip_address(text).is_loopback
    except ValueError:
        ok = False
    if not ok:
        raise argparse.ArgumentTypeError('only a loopback address is allowed, got {0!r}'.format(text))
    return text


def seed(pve, task_secs=0.0):
    guests = []
    for node in SEED_NODES:
        pve.add_node(node)
    for vmid, name, node, status, config in SEED_VMS:
        guests.append(pve.add_vm(vmid, name, node=node, status=status, config=dict(config)))
    for vmid, hostname, node, status in SEED_CTS:
        guests.append(pve.add_ct(vmid, hostname, node=node, status=status))
    for guest in guests:
        # PVE seconds each power task of the guest takes (real seconds: times --time-scale).
        guest.start_secs = guest.stop_secs = guest.shutdown_secs = task_secs


def build(args):
    pve = FakePve(user=args.user, password=args.password, host=args.host, port=args.port)
    pve.time_scale = args.time_scale
    if args.seed:
        seed(pve, args.task_secs)
    # fakepve keeps API tokens in a plain dict: 'user@realm!tokenid' -> secret.
    pve.apitokens[args.token_id] = args.token_secret
    if not args.no_acl:
        # The first grant() switches fakepve from "everyone may do anything" to per-path ACLs.
        # (A token whose user is root@pam bypasses ACLs in fakepve, as root does in PVE.)
        pve.grant(args.token_id, '/', *args.privs)
    for ident, secret, privs in args.extra_token:
        pve.apitokens[ident] = secret
        if not args.no_acl:
            if privs:
                pve.grant(ident, '/', *privs)
    return pve


async def serve(args):
    # Handlers first: a caller may send SIGTERM as soon as it has read the first line.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    pve = build(args)
    tmp = tempfile.mkdtemp(prefix='fakepve-pki-')
    try:
        certfile, keyfile, der = make_cert(tmp, hosts=(args.host,))
        try:
            await pve.start(certfile, keyfile)
        except OSError as exc:
            await pve.stop()
            raise SystemExit('fakepve_launcher: cannot listen on {0}:{1}: {2}'.format(args.host, args.port, exc))
        # Whole files or none: written beside the target, then renamed over it.
        if args.cert_out:
            shutil.copyfile(certfile, args.cert_out + '.tmp')
            os.replace(args.cert_out + '.tmp', args.cert_out)
        if args.key_out:
            shutil.copyfile(keyfile, args.key_out + '.tmp')
            os.chmod(args.key_out + '.tmp', 0o600)
            os.replace(args.key_out + '.tmp', args.key_out)
    finally:
        # The key and certificate are loaded; the copies asked for are written.
        shutil.rmtree(tmp, ignore_errors=True)
    sys.stdout.write('listening on https://{0}:{1} sha256={2}\n'.format(pve.host, pve.port, fingerprint(der)))
    sys.stdout.flush()
    try:
        await stop.wait()
    finally:
        await pve.stop()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--host', type=loopback_host, default='127.0.0.1', help='loopback address (default 127.0.0.1)')
    parser.add_argument('--port', type=int, default=0, help='port; 0 (the default) lets the system pick a free one')
    parser.add_argument('--token-id', type=token_id_arg, required=True, help='API token id, USER@REALM!ID')
    parser.add_argument('--token-secret', required=True, help='API token secret')
    parser.add_argument('--privs', type=lambda s: tuple(p for p in s.split(',') if p), default=DEFAULT_PRIVS,
                        help='comma-separated privileges granted to the token on / (default: {0})'.format(
                            ','.join(DEFAULT_PRIVS)))
    parser.add_argument('--extra-token', type=token_arg, action='append', default=[], metavar='ID=SECRET[:PRIVS]',
                        help='another token, with these privileges on / (none: 403 on privileged calls, lists filtered); '
                             'repeatable')
    parser.add_argument('--no-acl', action='store_true',
                        help='grant nothing: fakepve then lets every authenticated caller do anything')
    parser.add_argument('--cert-out', help='write the PEM certificate here (regenerated on every start)')
    parser.add_argument('--key-out', help='write the PEM private key here (mode 0600)')
    parser.add_argument('--seed', action='store_true', help='add the known inventory documented in FAKEPVE.md')
    parser.add_argument('--task-secs', type=float, default=0.0,
                        help='with --seed: PVE seconds every start, stop and shutdown task of a seeded guest takes '
                             '(default 0); with --time-scale > 0 this keeps a task "running" for a while')
    parser.add_argument('--time-scale', type=float, default=0.0,
                        help='real seconds per PVE second; 0 (the default) finishes tasks before the POST returns')
    parser.add_argument('--user', default='root@pam', help='password login user (default root@pam)')
    parser.add_argument('--password', default=os.environ.get('PVE_PASS', 'secret'),
                        help='password login (default: $PVE_PASS or "secret")')
    args = parser.parse_args(argv)
    asyncio.run(serve(args))
    return 0


if __name__ == '__main__':
    sys.exit(main())
