"""The other trending lists (Spaces, datasets, filtered model lists) through huggingface_hub's listing calls."""

from __future__ import annotations

import json
from datetime import datetime
from itertools import islice
from typing import Any

import httpx2
from huggingface_hub.errors import HfHubHTTPError
from huggingface_hub.utils._pagination import paginate

from bot.config import Secrets, Settings, configured_lists
from bot.domain.lists import ListSpec
from bot.domain.outcomes import PollFailure
from bot.log import get_logger
from bot.source.hub import HubError, HubSource, Source, status_failure

log = get_logger(__name__)


def _info_item(info: Any) -> dict[str, Any]:
    """A `ModelInfo`/`SpaceInfo`/`DatasetInfo` back into the Hub's item shape, for `snapshot_from_json`.

    The official client parses the answer; our parser still checks every field's type, so a drifting
    field becomes unknown instead of garbage. A Space's SDK is kept as its `library_name`.
    """
    created = getattr(info, "created_at", None)
    return {
        "id": info.id,
        "likes": getattr(info, "likes", None),
        "downloads": getattr(info, "downloads", None),
        "trendingScore": getattr(info, "trending_score", None),
        "pipeline_tag": getattr(info, "pipeline_tag", None),
        "library_name": getattr(info, "library_name", None) or getattr(info, "sdk", None),
        "createdAt": created.isoformat().replace("+00:00", "Z") if isinstance(created, datetime) else None,
        "tags": getattr(info, "tags", None),
    }


class ListSource(HubSource):
    """A `[[lists]]` entry: `list_models`/`list_spaces`/`list_datasets` sorted by trending score, filters sent
    to the Hub. Retries, timeouts and lineage lookups are `HubSource`'s."""

    def __init__(self, spec: ListSpec, **kwargs: Any) -> None:
        super().__init__(depth=spec.depth, **kwargs)
        self.spec = spec
        self.name = f"hub:{spec.name}"

    def _listing(self) -> Any:
        spec = self.spec
        if spec.kind == "spaces":
            return self._api.list_spaces(sort="trending_score", limit=spec.depth, author=spec.author)
        if spec.kind == "datasets":
            return self._api.list_datasets(sort="trending_score", limit=spec.depth, author=spec.author)
        return self._api.list_models(sort="trending_score", limit=spec.depth, author=spec.author,
                                     pipeline_tag=spec.pipeline_tag, filter=spec.library)

    def _raw_params(self) -> dict[str, Any]:
        """The query `_listing` sends, for the raw fallback."""
        spec = self.spec
        params: dict[str, Any] = {"sort": "trendingScore", "limit": spec.depth}
        found = {"author": spec.author, "pipeline_tag": spec.pipeline_tag, "filter": spec.library}
        params.update({key: value for key, value in found.items() if value})
        return params

    def _list(self) -> list[Any]:
        try:
            try:
                return [_info_item(info) for info in islice(self._listing(), self.spec.depth)]
            except (json.JSONDecodeError, HubError, httpx2.HTTPError):
                raise
            except (ValueError, TypeError, AttributeError, KeyError) as exc:
                # The client could not build its `SpaceInfo`/`DatasetInfo`/`ModelInfo` (a drifting optional
                # field, e.g. a `createdAt` it cannot parse): read the same page raw, and let our parser turn
                # that field into unknown with one warning instead of losing the whole answer.
                log.warning("list %s: the Hub client could not read the answer (%s); reading it raw",
                            self.spec.name, exc)
                headers = self._api._build_hf_headers()
                url = f"{self.endpoint}/api/{self.spec.kind}"
                return list(islice(paginate(url, params=self._raw_params(), headers=headers), self.spec.depth))
        except HubError:
            raise
        except (httpx2.HTTPStatusError, HfHubHTTPError) as exc:
            status = getattr(exc.response, "status_code", None)
            if status is None:
                raise HubError(f"the Hub refused: {exc}", PollFailure.HTTP_ERROR) from exc
            raise HubError(f"the Hub answered HTTP {status}", status_failure(status)) from exc
        except ValueError as exc:  # includes JSONDecodeError and a bad date the client could not parse
            raise HubError(f"the Hub's answer is not the expected JSON ({exc})") from exc
        except (KeyError, TypeError, AttributeError) as exc:
            raise HubError(f"the Hub's answer is not a list of {self.spec.kind}") from exc
        except OSError as exc:
            raise HubError(f"cannot reach the Hub: {exc}", PollFailure.UNREACHABLE) from exc


def build_list_sources(settings: Settings, secrets: Secrets) -> dict[str, Source]:
    """One source per `[[lists]]` entry; with `[hub] replay` the other lists are not polled."""
    if settings.hub.replay is not None:
        return {}
    token = secrets.hf_token.get_secret_value() if secrets.hf_token else None
    return {
        spec.name: ListSource(spec, endpoint=settings.hub.endpoint, token=token,
                              timeout=settings.hub.request_timeout, budget=settings.hub.retry_budget,
                              poll_interval=settings.hub.poll_interval,
                              lineage_lookups=settings.hub.lineage_lookups if spec.kind == "models" else 0)
        for spec in configured_lists(settings) if not spec.is_default
    }
