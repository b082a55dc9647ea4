from wump.auth import keys


def test_generated_keys_have_the_documented_format() -> None:
    new = keys.generate()

    assert keys.KEY_PATTERN.match(new.plaintext)
    assert new.plaintext.startswith(f"wump_{new.key_id}_")
    assert len(new.key_id) == 8
    # token_urlsafe(32) encodes 32 random bytes.
    assert len(new.secret) == 43


def test_generated_keys_are_unique() -> None:
    assert len({keys.generate().plaintext for _ in range(200)}) == 200


def test_split_accepts_only_well_formed_keys() -> None:
    new = keys.generate()
    assert keys.split(new.plaintext) == (new.key_id, new.secret)
    for bad in ("", "wump_short_x", f"ghp_{new.key_id}_{new.secret}", new.plaintext + "x"):
        assert keys.split(bad) is None


def test_hash_depends_on_the_pepper_and_is_never_the_secret() -> None:
    digest = keys.hash_secret("s" * 43, "pepper-one-xxxxxx")

    assert digest != "s" * 43
    assert digest != keys.hash_secret("s" * 43, "pepper-two-xxxxxx")
    assert keys.matches("s" * 43, digest, "pepper-one-xxxxxx")
    assert not keys.matches("t" * 43, digest, "pepper-one-xxxxxx")
