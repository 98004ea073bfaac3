"""One list fetch per organization, shared by concurrent readers, kept current by our writes."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tfprovider.cloud import OrgToken
from tfprovider.resources.token_lists import TokenLists


def token(token_id: str, name: str = "n") -> OrgToken:
    return OrgToken(
        id=token_id,
        name=name,
        description="",
        created="",
        last_used=0,
        expires=0,
        admin=False,
        created_by="",
        role_id=None,
        type="organization",
    )


class SlowLister:
    def __init__(self, tokens: dict[str, list[OrgToken]], delay: float = 0.2) -> None:
        self.tokens = tokens
        self.delay = delay
        self.calls: list[str] = []
        self.fail_next = False
        self._lock = threading.Lock()

    def __call__(self, org: str) -> list[OrgToken]:
        with self._lock:
            self.calls.append(org)
        time.sleep(self.delay)
        if self.fail_next:
            self.fail_next = False
            raise RuntimeError("service down")
        return list(self.tokens.get(org, []))


def test_concurrent_reads_of_one_org_share_one_fetch() -> None:
    lister = SlowLister({"acme": [token(str(i)) for i in range(1000)], "other": [token("x")]})
    lists = TokenLists(lister)
    with ThreadPoolExecutor(50) as pool:
        found = list(pool.map(lambda i: lists.find("acme", str(i)), range(1000)))
        other = list(pool.map(lambda _: lists.find("other", "x"), range(20)))
    assert all(t is not None and t.id == str(i) for i, t in enumerate(found))
    assert all(t is not None for t in other)
    assert sorted(lister.calls) == ["acme", "other"]
    assert lists.fetches == 2


def test_a_failed_fetch_reaches_its_waiters_but_is_not_cached() -> None:
    lister = SlowLister({"acme": [token("a")]})
    lister.fail_next = True
    lists = TokenLists(lister)
    with ThreadPoolExecutor(5) as pool:
        futures = [pool.submit(lists.find, "acme", "a") for _ in range(5)]
    for future in futures:
        with pytest.raises(RuntimeError):
            future.result()
    assert lists.find("acme", "a") is not None
    assert lister.calls == ["acme", "acme"]


def test_own_creates_and_deletes_keep_the_list_current() -> None:
    lister = SlowLister({"acme": [token("a")]}, delay=0)
    lists = TokenLists(lister)
    assert set(lists.tokens("acme")) == {"a"}
    lists.record_created("acme", token("b"))
    lists.record_deleted("acme", "a")
    assert set(lists.tokens("acme")) == {"b"}
    assert lister.calls == ["acme"]
    lists.invalidate("acme")
    assert set(lists.tokens("acme")) == {"a"}
