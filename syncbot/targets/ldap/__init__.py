"""The LDAP target: OpenLDAP, Active Directory, 389 Directory Server and Zimbra."""

from syncbot.targets.ldap.flavours import FLAVOURS, Flavour, MemberKind, get_flavour
from syncbot.targets.ldap.settings import LdapSettings
from syncbot.targets.ldap.target import LdapTarget

__all__ = ["FLAVOURS", "Flavour", "LdapSettings", "LdapTarget", "MemberKind", "get_flavour"]
