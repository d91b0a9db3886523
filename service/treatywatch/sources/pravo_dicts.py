"""The portal's own dictionaries (`/api/DocumentTypes`, `/api/SignatoryAuthorities`, `/api/PublicBlocks`): the
copy bundled here, as publication.pravo.gov.ru served them on 2026-01-19 (generated from the captures in
tests/data/pravo/), and the same read from the portal's answers. The runner fetches them daily (refcache.py); the
bundled copy serves at config load, offline, and whenever the portal's cannot be had."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from ..errors import ParseError

# name -> GUID, all 46 types the portal lists
DOCUMENT_TYPES: Mapping[str, str] = MappingProxyType(
    {
        "Конституция": "8fb60238-9fee-4a1b-9534-6d99ad0ceff0",
        "Закон Российской Федерации о поправке к Конституции Российской Федерации": "e0c56da5-17f1-40ac-a10f-8a9a1cee0c4e",  # noqa: E501
        "Федеральный конституционный закон": "93273da3-3133-4acf-96c2-4adc1ae70e19",
        "Федеральный закон": "82a8bf1c-3bc7-47ed-827f-7affd43a7f27",
        "Указ": "0790e34b-784b-4372-884e-3282622a24bd",
        "Постановление": "fd5a8766-f6fd-4ac2-8fd9-66f414d314ac",
        "Постановление Правления": "49a1ee72-097d-44e6-985d-f0cb7b036150",
        "Распоряжение": "7ff5b3b5-3757-44f1-bb76-3766cabe3593",
        "Резолюция": "397f9cc4-dc88-41a1-b009-802c99f9d9fd",
        "Соглашение": "7732b2a0-c522-436f-8172-a251912e2fc9",
        "Конвенция": "7c112925-ceaf-4bb4-93b4-16618b5dbdba",
        "Международный договор": "7ccde0f1-39b0-49b9-9a61-2fee55402189",
        "Договор": "63c6ff4f-ed74-45b3-86e2-8a76b75d674d",
        "Апелляционное определение": "a4719334-d2b8-4965-9c0e-95675800e1e5",
        "Кассационное определение": "b3078722-e63a-48cc-9458-5496a982b286",
        "Определение": "7a766fb3-5104-4579-a777-25bc88c0ddc9",
        "Протокол": "ac9e6a29-59cd-4c3d-8c14-ceb9843ef2da",
        "Поправки": "e39a5fe7-2e9f-4023-a7af-f17b5f2dec56",
        "Дополнение": "03f36e50-3912-4921-865a-3d34abdebf1e",
        "Дополнительный протокол": "337bbf47-7cc0-481d-8eb7-1f21ace58bfe",
        "Меморандум": "8dbf81e3-c061-4f28-939b-cf9a2c95421c",
        "Исполнительный протокол": "a9fc04ed-758b-4b6e-a35a-e55e4c69f825",
        "Сообщение Президента Российской Федерации": "4d76ef2a-6181-4e1c-bbd9-23ff836f8aca",
        "Сообщение о принятии Решения": "2037d729-6259-4249-9d7b-804854b17778",
        "Сообщение о судебном Решении": "b7d925b6-2190-4794-a7ee-f5e3993e1954",
        "Официальное сообщение Министерства иностранных дел": "4735e463-35e6-4ee9-a2c6-3ba2fba6f4d2",
        "Приказ": "2dddb344-d3e2-4785-a899-7aa12bd47b6f",
        "Положение": "a60db81f-1834-41fe-99dd-c8cf3746745d",
        "Конституционный закон": "97d902b9-cc94-4b01-9576-b4a7d4fde1fb",
        "Регламент": "d84850fc-c3f6-4595-a55c-bc8bcae02328",
        "Устав": "c0281bbe-6be1-45be-8acd-f319c99b85ad",
        "Устав (Основной Закон)": "50acf12d-2461-466e-bada-de5d8b7737a1",
        "Закон о поправках к Уставу": "1ee8f2cc-d23f-4ac1-a0e4-1fd202ecc736",
        "Поправки к Уставу": "5cf51861-5b6f-4210-9776-8086c05fdc8b",
        "Закон о внесении поправок в Устав Красноярского края": "cdafe085-10fe-4199-92a5-9aa82b2b6c99",
        "Закон Республики Бурятия о внесении поправок в Конституцию Республики Бурятия": "bdfe8274-cfc2-4a62-b413-91a201646ced",  # noqa: E501
        "Закон": "8910e61f-371d-490c-a1b8-aa7b8a5a48be",
        "Областной закон": "e880fa45-e4f4-4db9-bba0-847666adebab",
        "Уставный закон": "16b9a101-4ce2-47d0-8a92-8b1aff72867a",
        "Решение правления": "49322bdb-8137-4b5f-bc94-792e88992fab",
        "Решение": "34f574b3-5342-465d-9aad-fb692d9d27f2",
        "Заключение": "cf7ebd4b-506a-4794-ae32-3705c98f5535",
        "Извещение": "b1f44e8e-7699-4fe5-a9d1-7f6f62c7b89c",
        "Указание": "28b0f778-037b-456d-b510-2029cd6ed4ca",
        "Сообщение о принятии апелляционного решения": "c8df27f2-89a6-4014-8b3b-f224eb4448d2",
        "Сообщение о принятии апелляционного определения": "16fc3357-b991-4dd0-9447-cfa66257dcbd",
    }
)

# block code -> the portal's name for it (the Block= parameter of /api/Documents takes the code)
BLOCKS: Mapping[str, str] = MappingProxyType(
    {
        "president": "Президент Российской Федерации",
        "assembly": "Федеральное Собрание Российской Федерации",
        "council_1": "Совет Федерации Федерального Собрания Российской Федерации",
        "council_2": "Государственная Дума Федерального Собрания Российской Федерации",
        "government": "Правительство Российской Федерации",
        "federal_authorities": "Федеральные органы исполнительной власти и федеральные государственные органы Российской Федерации",  # noqa: E501
        "court": "Конституционный Суд Российской Федерации",
        "subjects": "Органы государственной власти субъектов Российской Федерации",
        "international": "Международные договоры Российской Федерации",
        "un_securitycouncil": "Совет Безопасности Организации Объединённых Наций",
    }
)

# The first words of an issuer as a title writes them (genitive, lower case) -> as the portal's dictionary of
# signatories names it (nominative): "Указ Президента Российской Федерации" is signed by "Президент Российской
# Федерации". Two-word heads are the adjective-noun ones.
ISSUER_HEADS: Mapping[str, str] = MappingProxyType(
    {
        "правительства": "Правительство",
        "президента": "Президент",
        "губернатора": "Губернатор",
        "главы": "Глава",
        "мэра": "Мэр",
        "министерства": "Министерство",
        "администрации": "Администрация",
        "департамента": "Департамент",
        "комитета": "Комитет",
        "управления": "Управление",
        "агентства": "Агентство",
        "инспекции": "Инспекция",
        "службы": "Служба",
        "федеральной службы": "Федеральная служба",
        "федерального агентства": "Федеральное агентство",
        "центрального банка": "Центральный банк",
        "банка россии": "Банк России",
        "государственной думы": "Государственная Дума",
        "совета федерации": "Совет Федерации",
        "конституционного суда": "Конституционный Суд",
        "верховного суда": "Верховный Суд",
        "законодательного собрания": "Законодательное Собрание",
        "государственного совета": "Государственный Совет",
        "областной думы": "Областная Дума",
    }
)

# signatory name -> GUID: the two whose acts the example configuration watches (the portal's dictionary has them all)
SIGNATORIES: Mapping[str, str] = MappingProxyType(
    {
        "Президент Российской Федерации": "225698f1-cfbc-4e42-9caa-32f9f7403211",
        "Правительство Российской Федерации": "8005d8c9-4b6d-48d3-861a-2a37e69fccb3",
    }
)
# short names of those two, as configurations written before the dictionaries named them
SIGNATORY_ALIASES: Mapping[str, str] = MappingProxyType(
    {
        "президент": SIGNATORIES["Президент Российской Федерации"],
        "president": SIGNATORIES["Президент Российской Федерации"],
        "правительство": SIGNATORIES["Правительство Российской Федерации"],
        "government": SIGNATORIES["Правительство Российской Федерации"],
    }
)
# the dictionaries' paths on the portal, by what they name
PATHS: Mapping[str, str] = MappingProxyType(
    {"types": "/api/DocumentTypes", "signatories": "/api/SignatoryAuthorities", "blocks": "/api/PublicBlocks"}
)


def _key(name: str) -> str:
    return " ".join(name.split()).lower()


@dataclass(frozen=True)
class Dictionaries:
    """Names and GUIDs of document types and signatories, names of blocks by code; looked up without regard to
    case and spacing, with the closest names for a "did you mean"."""

    types: Mapping[str, str]
    signatories: Mapping[str, str]
    blocks: Mapping[str, str]
    read: frozenset[str] = frozenset()  # the dictionaries read from the portal (the others are the bundled copy)

    def guid(self, table: str, value: str) -> str | None:
        """A name's GUID in `types` or `signatories` (a GUID stands for itself); None when unknown."""
        names: Mapping[str, str] = getattr(self, table)
        wanted = _key(value)
        if wanted in {g.lower() for g in names.values()}:
            return wanted
        return next((g.lower() for n, g in names.items() if _key(n) == wanted), None)

    def name(self, table: str, guid: str) -> str:
        """A GUID's name in `types` or `signatories`; '' when unknown."""
        wanted = guid.strip().lower()
        names: Mapping[str, str] = getattr(self, table)
        return next((n for n, g in names.items() if g.lower() == wanted), "")

    def near(self, table: str, value: str) -> list[str]:
        names: Mapping[str, str] = getattr(self, table)
        lowered = {_key(n): n for n in names}
        # 0.75: the names share "Российской Федерации", so a lower cutoff offers the Government for any ministry
        return [lowered[k] for k in difflib.get_close_matches(_key(value), list(lowered), n=3, cutoff=0.75)]


BUNDLED = Dictionaries(DOCUMENT_TYPES, SIGNATORIES, BLOCKS)


def read_dictionary(what: str, data: Any) -> dict[str, str]:
    """One of the portal's answers (a list of {id, name} or, for blocks, {code, name}; or such a list under
    `items`) as name -> GUID, or code -> name for blocks. ParseError when it is not one."""
    rows = data.get("items") if isinstance(data, dict) else data
    if not isinstance(rows, list):
        raise ParseError(f"the portal's {PATHS[what]} is not a list")
    out: dict[str, str] = {}
    for row in rows:
        if not isinstance(row, dict):
            continue
        name = " ".join(str(row.get("name") or row.get("shortName") or "").split())
        key = str(row.get("code") if what == "blocks" else row.get("id") or "").strip()
        if name and key:
            out[key if what == "blocks" else name] = name if what == "blocks" else key
    if not out:
        raise ParseError(f"the portal's {PATHS[what]} names nothing")
    return out


def with_portals(fetched: Mapping[str, Mapping[str, str]]) -> Dictionaries:
    """The bundled dictionaries with what the portal answered laid over them (a name it renamed keeps working)."""
    return Dictionaries(
        types={**BUNDLED.types, **fetched.get("types", {})},
        signatories={**BUNDLED.signatories, **fetched.get("signatories", {})},
        blocks={**BUNDLED.blocks, **fetched.get("blocks", {})},
        read=frozenset(fetched),
    )
