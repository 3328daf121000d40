"""EC2 for seed.py: VPCs with and without flow logs, security groups and network ACLs open and closed,
instances with IMDSv1/v2, volumes, snapshots shared and private, and the regional EBS settings.
`seed(s)` takes seed.py's Seeder."""

from __future__ import annotations


from seed_common import *  # noqa: F401,F403 (the estate's constants and helpers)


def seed(s) -> None:
    ec2 = s.c("ec2")
    A, R = ACCOUNT_A, REGION
    arn = lambda kind, i, region=R: f"arn:aws:ec2:{region}:{A}:{kind}/{i}"  # noqa: E731
    kms_arn = s.ids["kms:stance-data"]

    ec2.enable_ebs_encryption_by_default()
    check(ec2.get_ebs_encryption_by_default()["EbsEncryptionByDefault"], "ebs default")
    s.res("aws_ec2_regional_settings", f"arn:aws:ec2:{R}:{A}:regional-settings", A, R, R,
             note="EBS encryption by default on (moto does not apply it to new volumes)")
    ec2eu = s.c("ec2", REGION2)
    check(not ec2eu.get_ebs_encryption_by_default()["EbsEncryptionByDefault"], "eu ebs default")
    s.res("aws_ec2_regional_settings", f"arn:aws:ec2:{REGION2}:{A}:regional-settings", A, REGION2, REGION2,
             fail=["aws-ec2-ebs-encryption-by-default"])

    ami = ec2.register_image(Name="stance-al2023", Description="Stance seed AMI", RootDeviceName="/dev/xvda",
                             Architecture="x86_64", VirtualizationType="hvm",
                             BlockDeviceMappings=[{"DeviceName": "/dev/xvda", "Ebs": {"VolumeSize": 8}}])["ImageId"]
    s.extra["ami"] = ami

    # network
    default_vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    # moto 5.2.5 reads an S3 destination with a prefix as a bucket named "bucket/prefix" and reports the
    # flow log under Unsuccessful without raising: deliver to the bucket itself and check.
    created = ec2.create_flow_logs(ResourceIds=[default_vpc], ResourceType="VPC", TrafficType="ALL",
                                   LogDestinationType="s3", LogDestination="arn:aws:s3:::stance-access-logs")
    if created.get("Unsuccessful"):
        raise SystemExit(f"create_flow_logs failed: {created['Unsuccessful']}")
    s.res("aws_ec2_vpc", arn("vpc", default_vpc), A, R, "default", note="default VPC with an ACTIVE flow log to S3")
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16", TagSpecifications=[{"ResourceType": "vpc", "Tags": [
        {"Key": "Name", "Value": "stance-app"}]}])["Vpc"]["VpcId"]
    s.res("aws_ec2_vpc", arn("vpc", vpc), A, R, "stance-app", fail=["aws-ec2-vpc-flow-logs-enabled"])
    vpc2 = ec2.create_vpc(CidrBlock="10.40.0.0/16", TagSpecifications=[{"ResourceType": "vpc", "Tags": [
        {"Key": "Name", "Value": "stance-analytics"}]}])["Vpc"]["VpcId"]
    ec2.create_flow_logs(ResourceIds=[vpc2], ResourceType="VPC", TrafficType="REJECT",
                         LogDestinationType="cloud-watch-logs", LogGroupName="/stance/vpc-flow",
                         DeliverLogsPermissionArn=s.ids["role:stance-cloudtrail-logs"])
    s.res("aws_ec2_vpc", arn("vpc", vpc2), A, R, "stance-analytics", note="REJECT-only flow log to CloudWatch Logs")
    private = ec2.create_subnet(VpcId=vpc, CidrBlock="10.20.1.0/24", AvailabilityZone="us-east-1a")["Subnet"]["SubnetId"]
    public = ec2.create_subnet(VpcId=vpc, CidrBlock="10.20.2.0/24", AvailabilityZone="us-east-1b")["Subnet"]["SubnetId"]
    ec2.modify_subnet_attribute(SubnetId=public, MapPublicIpOnLaunch={"Value": True})

    # the new VPCs' default security groups: stance-app's is emptied (passes), stance-analytics' keeps egress
    for v, name, empty in ((vpc, "stance-app", True), (vpc2, "stance-analytics", False)):
        sg = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [v]},
                                                   {"Name": "group-name", "Values": ["default"]}])["SecurityGroups"][0]
        check(sg["IpPermissions"] == [], "default SG has no ingress in moto")
        if empty:
            ec2.revoke_security_group_egress(GroupId=sg["GroupId"], IpPermissions=sg["IpPermissionsEgress"])
            s.res("aws_ec2_security_group", arn("security-group", sg["GroupId"]), A, R, f"default ({name})",
                     note="default SG with every rule removed")
        else:
            s.res("aws_ec2_security_group", arn("security-group", sg["GroupId"]), A, R, f"default ({name})",
                     fail=["aws-ec2-sg-default-restrict-all-traffic"], note="default SG, egress to 0.0.0.0/0")
    for v, name in ((vpc, "stance-app"), (vpc2, "stance-analytics")):
        acl = ec2.describe_network_acls(Filters=[{"Name": "vpc-id", "Values": [v]},
                                                 {"Name": "default", "Values": ["true"]}])["NetworkAcls"][0]
        s.res("aws_ec2_network_acl", arn("network-acl", acl["NetworkAclId"]), A, R, f"default ({name})",
                 fail=["aws-ec2-nacl-no-admin-ports-from-internet"], note="default NACL: allow all inbound")
    acl = ec2.create_network_acl(VpcId=vpc)["NetworkAcl"]["NetworkAclId"]
    ec2.create_network_acl_entry(NetworkAclId=acl, RuleNumber=100, Protocol="6", RuleAction="allow", Egress=False,
                                 CidrBlock="0.0.0.0/0", PortRange={"From": 443, "To": 443})
    ec2.create_network_acl_entry(NetworkAclId=acl, RuleNumber=110, Protocol="6", RuleAction="allow", Egress=False,
                                 CidrBlock="0.0.0.0/0", PortRange={"From": 32768, "To": 65535})
    ec2.create_network_acl_entry(NetworkAclId=acl, RuleNumber=120, Protocol="6", RuleAction="allow", Egress=False,
                                 CidrBlock="10.0.0.0/8", PortRange={"From": 22, "To": 22})
    ec2.create_network_acl_entry(NetworkAclId=acl, RuleNumber=100, Protocol="-1", RuleAction="allow", Egress=True,
                                 CidrBlock="0.0.0.0/0")
    ec2.create_tags(Resources=[acl], Tags=[{"Key": "Name", "Value": "stance-private"}])
    s.res("aws_ec2_network_acl", arn("network-acl", acl), A, R, "stance-private",
             note="inbound 443 and 32768-65535 from anywhere, 22 from 10.0.0.0/8 only")
    acl = ec2.create_network_acl(VpcId=vpc)["NetworkAcl"]["NetworkAclId"]
    ec2.create_network_acl_entry(NetworkAclId=acl, RuleNumber=90, Protocol="6", RuleAction="deny", Egress=False,
                                 CidrBlock="0.0.0.0/0", PortRange={"From": 3389, "To": 3389})
    ec2.create_network_acl_entry(NetworkAclId=acl, RuleNumber=100, Protocol="6", RuleAction="allow", Egress=False,
                                 Ipv6CidrBlock="::/0", PortRange={"From": 22, "To": 22})
    ec2.create_tags(Resources=[acl], Tags=[{"Key": "Name", "Value": "stance-bastion"}])
    s.res("aws_ec2_network_acl", arn("network-acl", acl), A, R, "stance-bastion",
             fail=["aws-ec2-nacl-no-admin-ports-from-internet"], note="inbound SSH from ::/0")

    # security groups
    def sg(name: str, perms: list, fail=(), vpc_id=vpc, client=ec2, region=R, note=None) -> str:
        gid = client.create_security_group(GroupName=name, Description=f"Stance seed {name}", VpcId=vpc_id)["GroupId"]
        if perms:
            client.authorize_security_group_ingress(GroupId=gid, IpPermissions=perms)
        s.res("aws_ec2_security_group", arn("security-group", gid, region), A, region, name, fail=fail, note=note)
        s.ids[f"sg:{name}"] = gid
        return gid

    anywhere = [{"CidrIp": "0.0.0.0/0"}]
    pl = ec2.create_managed_prefix_list(PrefixListName="stance-office", MaxEntries=5, AddressFamily="IPv4",
                                        Entries=[{"Cidr": "198.51.100.0/24", "Description": "office"}])
    pl = pl["PrefixList"]["PrefixListId"]
    web = sg("stance-web", [
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "https"}],
         "Ipv6Ranges": [{"CidrIpv6": "::/0"}]},
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "10.0.0.0/8"}],
         "PrefixListIds": [{"PrefixListId": pl}]},
    ], note="443 from anywhere (IPv4+IPv6), 22 from 10/8 and a prefix list")
    ec2.authorize_security_group_ingress(GroupId=web, IpPermissions=[
        {"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": web}]}])
    sg("stance-ssh-open", [{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": anywhere}],
       fail=["aws-ec2-sg-no-ssh-from-internet"])
    sg("stance-rdp-ipv6", [{"IpProtocol": "tcp", "FromPort": 3389, "ToPort": 3389, "Ipv6Ranges": [{"CidrIpv6": "::/0"}]}],
       fail=["aws-ec2-sg-no-rdp-from-internet"])
    sg("stance-rdp-udp", [{"IpProtocol": "udp", "FromPort": 3389, "ToPort": 3389, "IpRanges": anywhere}],
       fail=["aws-ec2-sg-no-rdp-from-internet"], note="UDP 3389 (RDP UDP transport) from anywhere")
    sg("stance-db-open", [{"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "IpRanges": anywhere},
                          {"IpProtocol": "tcp", "FromPort": 6379, "ToPort": 6379, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}],
       fail=["aws-ec2-sg-no-db-ports-from-internet"])
    sg("stance-all-open", [{"IpProtocol": "-1", "IpRanges": anywhere}],
       fail=["aws-ec2-sg-no-all-traffic-from-internet", "aws-ec2-sg-no-ssh-from-internet",
             "aws-ec2-sg-no-rdp-from-internet", "aws-ec2-sg-no-db-ports-from-internet"],
       note="protocol -1 from 0.0.0.0/0 (ports normalise to 0-65535)")
    sg("stance-tcp-all-ports", [{"IpProtocol": "tcp", "FromPort": 0, "ToPort": 65535,
                                 "Ipv6Ranges": [{"CidrIpv6": "::/0"}]}],
       fail=["aws-ec2-sg-no-all-traffic-from-internet", "aws-ec2-sg-no-ssh-from-internet",
             "aws-ec2-sg-no-rdp-from-internet", "aws-ec2-sg-no-db-ports-from-internet"],
       note="tcp 0-65535 from ::/0")
    sg("stance-eu-web", [{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": anywhere}],
       vpc_id=ec2eu.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"],
       client=ec2eu, region=REGION2)
    s.extra["prefix_list"] = pl

    # instances
    def instance(name: str, subnet: str, sgs: list, md: dict, monitoring: bool, encrypted: bool, profile=False):
        bdm = {"DeviceName": "/dev/xvda", "Ebs": {"VolumeSize": 8, "VolumeType": "gp3", "DeleteOnTermination": True}}
        if encrypted:
            bdm["Ebs"].update(Encrypted=True, KmsKeyId=kms_arn)
        args = dict(ImageId=ami, MinCount=1, MaxCount=1, InstanceType="t3.micro", SubnetId=subnet,
                    SecurityGroupIds=sgs, MetadataOptions=md, Monitoring={"Enabled": monitoring},
                    BlockDeviceMappings=[bdm],
                    TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": name}]}])
        if profile:
            args["IamInstanceProfile"] = {"Name": "stance-app"}
        i = ec2.run_instances(**args)["Instances"][0]
        d = ec2.describe_instances(InstanceIds=[i["InstanceId"]])["Reservations"][0]["Instances"][0]
        vol = d["BlockDeviceMappings"][0]["Ebs"]["VolumeId"]
        got = ec2.describe_volumes(VolumeIds=[vol])["Volumes"][0]["Encrypted"]
        check(got == encrypted, f"root volume of {name} encrypted={got}")
        s.known["volume"].add(vol)
        return d, vol

    d, vol = instance("stance-app-1", private, [web], {"HttpTokens": "required", "HttpEndpoint": "enabled",
                                                        "HttpPutResponseHopLimit": 2}, True, True, profile=True)
    check(d.get("PublicIpAddress") is None and d["MetadataOptions"]["HttpTokens"] == "required", "app instance")
    s.res("aws_ec2_instance", arn("instance", d["InstanceId"]), A, R, "stance-app-1",
             note="private subnet, IMDSv2 required, detailed monitoring, instance profile")
    s.res("aws_ec2_volume", arn("volume", vol), A, R, "stance-app-1 root", note="encrypted with alias/stance-data")
    d, vol = instance("stance-legacy-1", public, [s.ids["sg:stance-ssh-open"]], {"HttpTokens": "optional"}, False, False)
    check(d.get("PublicIpAddress") is not None and d["MetadataOptions"]["HttpTokens"] == "optional", "legacy instance")
    s.res("aws_ec2_instance", arn("instance", d["InstanceId"]), A, R, "stance-legacy-1",
             fail=["aws-ec2-instance-imdsv2-required", "aws-ec2-instance-no-public-ip"],
             note="public subnet with public IP, IMDSv1 allowed; Inspector2 findings point at it")
    s.res("aws_ec2_volume", arn("volume", vol), A, R, "stance-legacy-1 root", fail=["aws-ec2-volume-encrypted"])
    s.ids["instance:legacy"] = d["InstanceId"]
    s.extra["legacy_instance"] = d
    d, vol = instance("stance-batch-1", public, [web], {"HttpEndpoint": "disabled"}, False, True)
    check(d.get("PublicIpAddress") is not None and d["MetadataOptions"]["HttpEndpoint"] == "disabled", "batch instance")
    s.res("aws_ec2_instance", arn("instance", d["InstanceId"]), A, R, "stance-batch-1",
             fail=["aws-ec2-instance-no-public-ip"], note="metadata endpoint disabled (passes IMDSv2), public IP")
    s.res("aws_ec2_volume", arn("volume", vol), A, R, "stance-batch-1 root", note="encrypted")

    # volumes and snapshots
    enc = ec2.create_volume(AvailabilityZone="us-east-1a", Size=20, VolumeType="gp3", Encrypted=True, KmsKeyId=kms_arn,
                            TagSpecifications=[{"ResourceType": "volume", "Tags": [{"Key": "Name", "Value": "stance-data"}]}])
    plain = ec2.create_volume(AvailabilityZone="us-east-1a", Size=10, VolumeType="gp2",
                              TagSpecifications=[{"ResourceType": "volume", "Tags": [{"Key": "Name", "Value": "stance-scratch"}]}])
    check(not plain["Encrypted"], "moto ignores EBS encryption by default for new volumes")
    for v in (enc, plain):
        s.known["volume"].add(v["VolumeId"])
    s.res("aws_ec2_volume", arn("volume", enc["VolumeId"]), A, R, "stance-data")
    s.res("aws_ec2_volume", arn("volume", plain["VolumeId"]), A, R, "stance-scratch",
             fail=["aws-ec2-volume-encrypted"],
             note="unencrypted although EBS encryption by default is on in the region (moto does not apply it)")
    s_enc = ec2.create_snapshot(VolumeId=enc["VolumeId"], Description="stance-data nightly")["SnapshotId"]
    ec2.modify_snapshot_attribute(SnapshotId=s_enc, Attribute="createVolumePermission", OperationType="add",
                                  UserIds=[PARTNER_ACCOUNT])
    s_pub = ec2.create_snapshot(VolumeId=plain["VolumeId"], Description="stance-scratch export")["SnapshotId"]
    ec2.modify_snapshot_attribute(SnapshotId=s_pub, Attribute="createVolumePermission", OperationType="add",
                                  GroupNames=["all"])
    perms = ec2.describe_snapshot_attribute(SnapshotId=s_pub, Attribute="createVolumePermission")["CreateVolumePermissions"]
    check({"Group": "all"} in perms, f"public snapshot {perms}")
    s.known["snapshot"] |= {s_enc, s_pub}
    s.res("aws_ec2_snapshot", arn("snapshot", s_enc), A, R, "stance-data nightly",
             note=f"encrypted, shared with {PARTNER_ACCOUNT} only", shared_with_accounts=[PARTNER_ACCOUNT])
    s.res("aws_ec2_snapshot", arn("snapshot", s_pub), A, R, "stance-scratch export",
             fail=["aws-ec2-snapshot-not-public"], note="createVolumePermission group all")

# ---- RDS ------------------------------------------------------------------------------------
