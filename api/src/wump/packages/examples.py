"""Response examples shown in the API reference."""

from typing import Any

DEPENDENTS: dict[str, Any] = {
    "package": {
        "ecosystem": "pypi",
        "name": "httpx",
        "normalized_name": "httpx",
        "purl": "pkg:pypi/httpx",
        "description": "The next generation HTTP client.",
        "repository_url": "https://github.com/encode/httpx",
        "homepage_url": "https://www.python-httpx.org",
        "latest_version": "0.28.1",
        "funding_urls": ["https://github.com/sponsors/encode"],
    },
    "total_organizations": 2,
    "total_repositories": 14,
    "total": 2,
    "limit": 50,
    "next_cursor": None,
    "dependents": [
        {
            "organization": {
                "login": "acme",
                "name": "Acme Corp",
                "kind": "organization",
                "github_url": "https://github.com/acme",
                "website_url": "https://acme.example",
                "sponsorship_url": None,
                "is_verified": True,
                "company": None,
            },
            "score": 81.37,
            "score_factors": {
                "repositories": 15.82,
                "stars": 15.55,
                "organization": 10.0,
                "verified": 5.0,
                "contact": 5.0,
                "recent_activity": 10.0,
                "runtime": 10.0,
                "sponsorship": 5.0,
            },
            "total_repositories": 12,
            "total_stars": 8900,
            "last_pushed_at": "2026-11-30T08:12:00Z",
            "repositories": [
                {
                    "full_name": "acme/payments",
                    "html_url": "https://github.com/acme/payments",
                    "stars": 5100,
                    "primary_language": "Python",
                    "pushed_at": "2026-11-30T08:12:00Z",
                    "is_fork": False,
                    "is_archived": False,
                    "dependency_type": "runtime",
                    "requirement": ">=0.27",
                    "is_direct": True,
                    "manifest_path": "pyproject.toml",
                    "source": "manifest",
                    "sources": ["manifest", "sbom"],
                    "first_seen_at": "2026-02-01T10:00:00Z",
                }
            ],
        },
        {
            "organization": {
                "login": "jdoe",
                "name": "Jane Doe",
                "kind": "user",
                "github_url": "https://github.com/jdoe",
                "website_url": None,
                "sponsorship_url": "https://github.com/sponsors/jdoe",
                "is_verified": False,
                "company": None,
            },
            "score": 27.51,
            "score_factors": {
                "repositories": 10.43,
                "stars": 7.08,
                "organization": 0.0,
                "verified": 0.0,
                "contact": 0.0,
                "recent_activity": 0.0,
                "runtime": 10.0,
                "sponsorship": 0.0,
            },
            "total_repositories": 2,
            "total_stars": 14,
            "last_pushed_at": "2025-06-02T17:40:00Z",
            "repositories": [],
        },
    ],
}

DEPENDENTS_CSV = (
    "login,name,kind,score,total_repositories,total_stars,last_pushed_at,company,website_url,"
    "github_url,sponsorship_url,is_verified,factor_repositories,factor_stars,"
    "factor_organization,factor_verified,factor_contact,factor_recent_activity,"
    "factor_runtime,factor_sponsorship,repositories\r\n"
    "acme,Acme Corp,organization,81.37,12,8900,2026-11-30T08:12:00+00:00,,"
    "https://acme.example,https://github.com/acme,,true,15.82,15.55,10.0,5.0,5.0,10.0,10.0,"
    "5.0,acme/payments acme/billing\r\n"
)

REPOSITORIES_CSV = (
    "full_name,owner,owner_kind,html_url,stars,primary_language,pushed_at,is_fork,"
    "is_archived,dependency_type,requirement,is_direct,manifest_path,source,sources,"
    "first_seen_at\r\n"
    "acme/payments,acme,organization,https://github.com/acme/payments,5100,Python,"
    "2026-11-30T08:12:00+00:00,false,false,runtime,>=0.27,true,pyproject.toml,manifest,"
    "manifest sbom,2026-02-01T10:00:00+00:00\r\n"
)

PACKAGES_CSV = (
    "ecosystem,name,purl,dependent_repositories_count,dependent_organizations_count,"
    "latest_version,repository_url,homepage_url\r\n"
    "pypi,httpx,pkg:pypi/httpx,1520,610,0.28.1,https://github.com/encode/httpx,"
    "https://www.python-httpx.org\r\n"
)
