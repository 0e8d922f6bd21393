"""``from awsglue.transforms import *`` works; no transform is implemented locally (the scripts use none)."""

__all__: list[str] = []
