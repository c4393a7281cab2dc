"""pan-os-python (and pan-python under it) against `vendor-sim panos`, as an operator's script.

Every assertion is about what the SDK observes: the candidate against the running
configuration, job results, and the error text the SDK raises.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from panos import errors as err
from panos.firewall import FirewallCommit
from panos.objects import AddressGroup, AddressObject
from panos.panorama import PanoramaCommitAll
from panos.policies import Rulebase, SecurityRule

from conftest import Sim, firewall, panorama

FW_CONFIG = "firewall-8.0-vsys1.xml"
PANO_CONFIG = "panorama-8.1.xml"
HIT_COUNT_ALL = (
    "<show><rule-hit-count><vsys><vsys-name><entry name='vsys1'><rule-base><entry name='security'>"
    "<rules><all/></rules></entry></rule-base></entry></vsys-name></vsys></rule-hit-count></show>"
)


def names(objs) -> list[str]:
    return [o.name for o in objs]


def addresses(fw, running: bool) -> list[str]:
    return names(AddressObject.refreshall(fw, running_config=running, add=False))


def rules(fw, running: bool) -> list[str]:
    rb = Rulebase()
    fw.add(rb)
    try:
        return names(SecurityRule.refreshall(rb, running_config=running, add=False))
    finally:
        fw.remove(rb)


def new_rule(name: str, source: list[str], **kw) -> SecurityRule:
    return SecurityRule(
        name,
        fromzone=["trust"],
        tozone=["untrust"],
        source=source,
        destination=["any"],
        application=["any"],
        service=["application-default"],
        action="allow",
        **kw,
    )


def test_objects_rules_moves_and_a_described_commit(panos_sim):
    sim: Sim = panos_sim(FW_CONFIG)
    fw = firewall(sim, sim.admin_key)
    fw.refresh_system_info()
    assert fw.version == "8.0.0"

    host = AddressObject("sdk-host", "192.0.2.10/32", description="created by pan-os-python")
    fw.add(host)
    host.create()
    group = AddressGroup("sdk-group", static_value=["sdk-host", "N-10.0.0.0s8"])
    fw.add(group)
    group.create()
    rb = Rulebase()
    fw.add(rb)
    rule = new_rule("sdk-rule", ["sdk-group"], description="via the SDK")
    rb.add(rule)
    rule.create()

    # The candidate has them, running does not (yet).
    assert "sdk-host" in addresses(fw, running=False)
    assert "sdk-host" not in addresses(fw, running=True)
    running_before = rules(fw, running=True)
    assert "sdk-rule" not in running_before
    assert rules(fw, running=False)[-1] == "sdk-rule"
    assert fw.pending_changes() is True

    # Moves: top, then right after the second rule of the real rulebase.
    rule.move("top")
    assert rules(fw, running=False)[0] == "sdk-rule"
    second = running_before[1]
    rule.move("after", second)
    candidate_order = rules(fw, running=False)
    assert candidate_order[:3] == [running_before[0], second, "sdk-rule"]
    assert rules(fw, running=True) == running_before

    # One field updated in place.
    rule.description = "updated via the SDK"
    rule.update("description")
    fresh = SecurityRule("sdk-rule")
    rb.add(fresh)
    fresh.refresh()
    assert fresh.description == "updated via the SDK"
    assert fresh.source == ["sdk-group"]

    description = "CHG-1001 requested by Alice Example"
    result = fw.commit(sync=True, cmd=FirewallCommit(description=description))
    assert result["success"] is True, result
    assert result["result"] == "OK"
    job = fw.op(f'show jobs id "{result["jobid"]}"')
    assert job.findtext("./result/job/status") == "FIN"
    assert job.findtext("./result/job/type") == "Commit"
    assert job.findtext("./result/job/description") == description
    assert job.findtext("./result/job/user") == "admin"

    # Running now is the candidate.
    assert rules(fw, running=True) == candidate_order
    assert "sdk-host" in addresses(fw, running=True)
    assert fw.pending_changes() is False
    # Nothing left: pan-os-python returns None when PAN-OS answers "no changes".
    assert fw.commit(sync=True) is None
    jobs = fw.op("show jobs all")
    assert description in [j.findtext("description") for j in jobs.findall("./result/job")]


def test_the_vendor_error_text_reaches_the_sdk(panos_sim):
    sim: Sim = panos_sim(FW_CONFIG)
    fw = firewall(sim, sim.admin_key)
    used = AddressObject("N-10.0.0.0s8")
    fw.add(used)
    with pytest.raises(err.PanDeviceXapiError) as refused:
        used.delete()
    text = str(refused.value)
    assert "N-10.0.0.0s8 cannot be deleted because of references from:" in text
    assert "address-group -> g_PRIVATE -> static" in text
    assert "N-10.0.0.0s8" in addresses(fw, running=False)

    rb = Rulebase()
    fw.add(rb)
    dangling = new_rule("sdk-dangling", ["no-such-object"])
    rb.add(dangling)
    with pytest.raises(err.PanDeviceXapiError) as refused:
        dangling.create()
    assert "sdk-dangling -> source 'no-such-object' is not a valid reference" in str(refused.value)
    assert "sdk-dangling" not in rules(fw, running=False)

    # Deleting what is not there is not an error on PAN-OS (code 7, status success).
    ghost = AddressObject("never-existed")
    fw.add(ghost)
    ghost.delete()


def test_partial_commits_and_a_commit_that_fails_validation(panos_sim):
    sim: Sim = panos_sim(FW_CONFIG)
    admin = firewall(sim, sim.admin_key)
    bob = firewall(sim, sim.bob_key)

    bobs = AddressObject("bob-host", "198.51.100.7")
    bob.add(bobs)
    bobs.create()
    rb = Rulebase()
    admin.add(rb)
    rule = new_rule("admin-rule", ["bob-host"])
    rb.add(rule)
    rule.create()

    # admin's changes alone would leave admin-rule pointing at nothing.
    result = admin.commit(sync=True, admins=["admin"])
    assert result["success"] is False
    assert result["result"] == "FAIL"
    messages = "\n".join(result["messages"])
    assert "admin-rule -> source 'bob-host' is not a valid reference" in messages, result
    assert "admin-rule" not in rules(admin, running=True)
    with pytest.raises(err.PanCommitFailed):
        admin.commit(sync=True, admins=["admin"], exception=True)

    # bob commits his own change only; then admin's passes.
    result = bob.commit(sync=True, admins=["bob"])
    assert result["success"] is True, result
    assert result["user"] == "bob"
    assert "bob-host" in addresses(admin, running=True)
    assert "admin-rule" not in rules(admin, running=True)
    assert admin.pending_changes() is True
    result = admin.commit(sync=True, admins=["admin"])
    assert result["success"] is True, result
    assert "admin-rule" in rules(admin, running=True)
    assert admin.pending_changes() is False


def test_revert_and_locks(panos_sim):
    sim: Sim = panos_sim(FW_CONFIG)
    admin = firewall(sim, sim.admin_key)
    bob = firewall(sim, sim.bob_key)

    temp = AddressObject("temp-host", "192.0.2.99")
    admin.add(temp)
    temp.create()
    assert "temp-host" in addresses(admin, running=False)
    admin.revert_to_running_configuration()
    assert "temp-host" not in addresses(admin, running=False)
    assert admin.pending_changes() is False

    # A config lock: bob cannot change the candidate; the SDK sees a lock error.
    assert admin.add_config_lock(comment="change window CHG-7") is True
    assert bob.check_config_locks() is True
    blocked = AddressObject("bob-host", "192.0.2.98")
    bob.add(blocked)
    with pytest.raises(err.PanLockError) as locked:
        blocked.create()
    assert "locked by admin" in str(locked.value)
    with pytest.raises(err.PanDeviceXapiError) as held:
        bob.add_config_lock()
    assert "already held by admin" in str(held.value)
    assert admin.remove_config_lock() is True
    assert admin.remove_config_lock(exceptions=False) is False
    assert admin.check_config_locks() is False
    blocked.create()

    # A commit lock: admin may change the candidate but not commit.
    assert bob.add_commit_lock(comment="freeze") is True
    assert admin.check_commit_locks() is True
    with pytest.raises(err.PanDeviceXapiError) as refused:
        admin.commit(sync=True)
    assert "Other administrators are holding device wide commit locks." in str(refused.value)
    assert bob.remove_commit_lock() is True
    result = admin.commit(sync=True)
    assert result["success"] is True, result
    assert "bob-host" in addresses(admin, running=True)


def test_rule_hit_counts_find_unused_rules(panos_sim):
    sim: Sim = panos_sim(FW_CONFIG)
    fw = firewall(sim, sim.admin_key)
    answer = fw.op(HIT_COUNT_ALL, cmd_xml=False)
    entries = answer.findall("./result/rule-hit-count/vsys/entry/rule-base/entry/rules/entry")
    assert [e.get("name") for e in entries] == rules(fw, running=True)
    unused = [e.get("name") for e in entries if e.findtext("hit-count") == "0"]
    used = [e for e in entries if e.findtext("hit-count") != "0"]
    assert unused and used
    for e in used:
        assert int(e.findtext("last-hit-timestamp")) >= int(e.findtext("first-hit-timestamp")) > 0


def test_panorama_commit_all_to_a_device_group(panos_sim):
    sim: Sim = panos_sim(PANO_CONFIG)
    pano = panorama(sim, sim.admin_key)
    group = "FR Datacenter"
    push = PanoramaCommitAll(style="device group", name=group, description="push by Alice Example")
    result = pano.commit(cmd=push, sync=True, sync_all=True)
    assert result["success"] is True, result
    assert set(result["devices"]) == {"000007777"}
    assert result["devices"]["000007777"]["result"] == "OK"
    job = pano.op(f'show jobs id "{result["jobid"]}"')
    assert job.findtext("./result/job/type") == "CommitAll"
    assert job.findtext("./result/job/description") == "push by Alice Example"

    with pytest.raises(err.PanDeviceXapiError) as refused:
        pano.commit(cmd=PanoramaCommitAll(style="device group", name="no-such-group"), sync=True)
    assert "no-such-group" in str(refused.value)
