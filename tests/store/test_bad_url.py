"""A malformed or unusable DATABASE_URL is the store's own one-sentence error."""

import pytest

from common.errors import StoreError
from store import Store


@pytest.mark.parametrize("url", ["not a url", "nosuchdb://x/y", "mysql+nosuchdriver://u@h/d"])
def test_bad_url_is_a_store_error(url: str) -> None:
    with pytest.raises(StoreError) as err:
        Store(url)
    assert "DATABASE_URL" in str(err.value) and "\n" not in str(err.value)
